package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCredentialsOfAHead(t *testing.T) {
	s, err := compileTokens(TokensConfig{Enabled: true, Headers: []string{"X-Deploy-Key"}}, nil)
	require.NoError(t, err)
	head := "GET / HTTP/1.1\r\nauthorization: bearer  one\r\nAuthorization:\tToken\ttwo\nAuthorization: three\r\n" +
		"Authorization: Negotiate not-a-token\r\nX-API-KEY: four\r\nx-deploy-key: five\r\nPrivate-Token: six\r\nX-Auth-Token: seven\r\nX-Other: no"
	var got []string
	s.credentials([]byte(head), func(tok []byte) { got = append(got, string(tok)) })
	assert.Equal(t, []string{"one", "two", "three", "four", "five", "six", "seven"}, got)
}

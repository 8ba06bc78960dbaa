package wg

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length of a WireGuard key.
const KeyLen = 32

// Key is a Curve25519 key (private, public or preshared), written in
// base64 as wg(8) writes it.
type Key [KeyLen]byte

// GenerateKey returns a new private key, clamped as wg genkey clamps it.
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("wireguard: generate key: %w", err)
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k, nil
}

// GeneratePresharedKey returns 32 random bytes (wg genpsk).
func GeneratePresharedKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("wireguard: generate key: %w", err)
	}
	return k, nil
}

// ParseKey decodes a base64 key, as wg(8) and wg-quick write them.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != KeyLen {
		return Key{}, fmt.Errorf("wireguard: invalid key: want %d bytes in base64 (as wg genkey prints)", KeyLen)
	}
	copy(k[:], b)
	return k, nil
}

// PublicKey derives the public key of a private key (wg pubkey).
func (k Key) PublicKey() Key {
	var pub Key
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&k))
	return pub
}

// String is the base64 form. Never call it on a private key where the
// result could reach a log.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Short is the first 8 characters of the base64 form, for tables and
// logs of public keys.
func (k Key) Short() string { return k.String()[:8] }

// IsZero reports whether the key is all zeros (unset).
func (k Key) IsZero() bool { return k == Key{} }

func (k Key) hex() string { return hex.EncodeToString(k[:]) }

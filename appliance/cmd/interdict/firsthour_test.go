package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
)

// runMain runs the real command line (newApp, flags moved before the
// arguments as main does) and returns stdout, stderr,
// the error and the exit code cli.Exit asked for (0 when none).
func runMain(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.Run(flagsFirst(app.Commands, append([]string{"interdict"}, args...)))
	code := 0
	if ec, ok := err.(cli.ExitCoder); ok {
		code = ec.ExitCode()
	}
	return out.String(), errOut.String(), code, err
}

// A mistyped command says it is unknown and lists the commands, at every
// level, and exits non-zero; urfave/cli alone printed "No help topic".
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rnu"}, `unknown command "rnu"; commands: run, config, rules, replay, ctl, peer, demo, keygen, pubkey, policy, version (see interdict --help)`},
		{[]string{"ctl", "stauts"}, `unknown command "stauts"; commands: status, flows, block, unblock, blocks, reload, rules, cluster, identities, pause, quarantine, release, tokens (see interdict ctl --help)`},
		{[]string{"config", "chek"}, `unknown command "chek"; commands: check, default (see interdict config --help)`},
	} {
		_, _, code, err := runMain(t, tc.args...)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.want)
		assert.Equal(t, 2, code)
	}
	out, _, _, err := runMain(t)
	require.NoError(t, err, "no command shows the help")
	assert.Contains(t, out, "COMMANDS:")
}

// --version and -v print what `interdict version` prints.
func TestVersionFlag(t *testing.T) {
	want, _, _, err := runMain(t, "version")
	require.NoError(t, err)
	require.Contains(t, want, "interdict ")
	for _, flag := range []string{"--version", "-v"} {
		out, _, _, err := runMain(t, flag)
		require.NoError(t, err, flag)
		assert.Equal(t, want, out, flag)
	}
}

// A flag of ctl given after its subcommand says where it goes; urfave/cli
// alone printed "flag provided but not defined: -socket" and the
// subcommand's help, which does not list --socket.
func TestParentFlagAfterSubcommand(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, code, err := runMain(t, "ctl", "status", "--socket", sock)
	require.Error(t, err)
	assert.Equal(t, "interdict: --socket is an option of `interdict ctl`: give it before the command, as in `interdict ctl --socket ... status`", err.Error())
	assert.Equal(t, 2, code)
	out, _, _, err := runMain(t, "ctl", "status", "--jsn")
	require.Error(t, err, "any other unknown flag")
	assert.Contains(t, err.Error(), "flag provided but not defined: -jsn")
	assert.Contains(t, out, "Incorrect Usage")
}

// ctl with no appliance behind the socket says so and how to point ctl
// at one, instead of a raw dial error.
func TestCtlNoAppliance(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, _, err := runMain(t, "ctl", "--socket", sock, "status")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no appliance answers on socket "+sock)
	assert.Contains(t, err.Error(), "Point interdict ctl at it with --socket PATH")
	assert.Contains(t, err.Error(), "or --url http://HOST:PORT")
	assert.NotContains(t, err.Error(), "http://interdict", "the client's internal URL is noise to a user")

	// peer speaks to the same socket and says the same; it has no --url.
	for _, args := range [][]string{{"peer", "list"}, {"peer", "add", "runner-1"}, {"peer", "remove", "runner-1"}} {
		_, _, _, err := runMain(t, append(append([]string{}, args[:2]...), append([]string{"--socket", sock}, args[2:]...)...)...)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), "no appliance answers on socket "+sock, args)
		assert.Contains(t, err.Error(), "Point interdict "+strings.Join(args[:2], " ")+" at it with --socket PATH", args)
		assert.NotContains(t, err.Error(), "--url", args)
		assert.NotContains(t, err.Error(), "http://interdict", args)
	}
}

// config check prints every error of a file and fails.
func TestConfigCheckAllErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, writeFile(path, "mode: bogus\nlog:\n  levl: info\n"))
	_, errOut, code, err := runMain(t, "config", "check", path)
	require.Error(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, path+`:1: mode: "bogus" not supported`)
	assert.Contains(t, errOut, path+":3: log.levl: unknown key (did you mean level?)")
	assert.Contains(t, err.Error(), "2 error(s)")
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// rules check without a file checks the rule set run would load: the
// embedded default config's, i.e. the default pack.
func TestRulesCheckNoFile(t *testing.T) {
	out, _, _, err := runMain(t, "rules", "check")
	require.NoError(t, err)
	assert.Contains(t, out, "default-pack/")
	assert.Contains(t, out, " 0 rejected\n")
}

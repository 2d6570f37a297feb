package watcher

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// nobody is the user a test of unreadable files runs as when the tests run
// as root, which reads any file and directory.
const nobody = 65534

// rerunAsNonRoot runs the calling test again, alone, in a process of user
// nobody when this process runs as root, and reports whether it did: the
// caller's test is then done. A test of what happens to a file or a
// directory that cannot be read proves nothing as root.
func rerunAsNonRoot(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	// The test binary sits in a directory only root may enter: the copy
	// goes where nobody can run it.
	dir, err := os.MkdirTemp("", "docgraph-nonroot-")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	require.NoError(t, os.Chmod(dir, 0o755))
	exe, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, filepath.Base(exe))
	copyFile(t, exe, bin)
	require.NoError(t, os.Chmod(bin, 0o755))

	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOCOVERDIR=") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s as user %d:\n%s", t.Name(), nobody, out)
	require.Contains(t, string(out), "--- PASS: "+t.Name(), "%s as user %d:\n%s", t.Name(), nobody, out)
	return true
}

package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"kinn.dev/kinn/lab/ipam"
)

// The current lab is kinn's kubectl current-context: the lab every command
// acts on when neither --name nor KINN_LAB names one. It is one line in
// the state root, next to the labs' directories (so a test's own state
// root has its own), in a file whose upper-case name no lab can have.
const currentFile = "CURRENT"

// Current is the lab `kinn use` chose, "" when none was.
func Current(o Options) (string, error) {
	b, err := os.ReadFile(filepath.Join(o.withDefaults().StateRoot, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("%s: %w (choose another with kinn use)", filepath.Join(o.withDefaults().StateRoot, currentFile), err)
	}
	return name, nil
}

// SetCurrent makes name the current lab; "" forgets the choice.
func SetCurrent(o Options, name string) error {
	path := filepath.Join(o.withDefaults().StateRoot, currentFile)
	if name == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := CheckName(name); err != nil {
		return err
	}
	return ipam.WriteFileAtomic(path, []byte(name+"\n"))
}

// ForgetCurrent forgets the current lab if it is name (the lab was taken
// down), so that the next command does not act on a lab that is gone.
func ForgetCurrent(o Options, name string) error {
	cur, err := Current(o)
	if err != nil || cur != name {
		return err
	}
	return SetCurrent(o, "")
}

// Package flagenv gives every command-line flag a MINT_* environment fallback (--data-dir reads
// MINT_DATA_DIR). It is apart from internal/cli so the lean agent command shares it.
package flagenv

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Apply sets each flag of fs not given on the command line from MINT_<NAME> (upper case, dashes as
// underscores) when that variable is set.
func Apply(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "MINT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// The backup and restore subcommands: `final backup --to FILE` copies the
// SQLite store of a data directory, while its server runs, to one file;
// `final restore --from FILE` puts such a file back, while no server runs.
// They are etcdctl snapshot save and etcdutl snapshot restore for the
// embedded store (final/storage/sqlite's Backup and Restore); with
// --etcd-servers, etcd's own tools do the job.

package server

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
)

// defaultDataDir is --data-dir's default, for the server and the subcommands.
const defaultDataDir = "data/final"

// stateDB is the SQLite store's file in a data directory.
func stateDB(dataDir string) string { return filepath.Join(dataDir, "state.db") }

// Subcommands are the commands `final` runs instead of serving, by name.
var Subcommands = map[string]func(ctx context.Context, args []string, out io.Writer) error{
	"backup":  backupCommand,
	"restore": restoreCommand,
}

// backupCommand: final backup --to FILE [--data-dir DIR].
func backupCommand(ctx context.Context, args []string, out io.Writer) error {
	dataDir, to, err := parseSubcommand("backup", "to", "the file to write the backup to (replaced if it exists)", args, out)
	if err != nil {
		return err
	}
	rev, err := sqlite.Backup(ctx, stateDB(dataDir), to)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Backed up %s at revision %d to %s\n", stateDB(dataDir), rev, to)
	return nil
}

// restoreCommand: final restore --from FILE [--data-dir DIR], with the
// data directory's server stopped.
func restoreCommand(ctx context.Context, args []string, out io.Writer) error {
	dataDir, from, err := parseSubcommand("restore", "from", "the backup to restore", args, out)
	if err != nil {
		return err
	}
	rev, err := sqlite.Restore(ctx, from, stateDB(dataDir))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Restored %s at revision %d from %s\n", stateDB(dataDir), rev, from)
	return nil
}

// parseSubcommand reads a subcommand's flags, as the server reads its own:
// --data-dir, and the required file flag named fileFlag. Stray arguments
// are an error.
func parseSubcommand(name, fileFlag, fileUsage string, args []string, out io.Writer) (dataDir, file string, err error) {
	fs := flag.NewFlagSet("final "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&dataDir, "data-dir", defaultDataDir, "the server's data directory")
	fs.StringVar(&file, fileFlag, "", fileUsage+" (required)")
	if err := parseFlags(fs, args, out); err != nil {
		return "", "", err
	}
	if fs.NArg() > 0 {
		return "", "", fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if file == "" {
		return "", "", fmt.Errorf("final %s: --%s is required", name, fileFlag)
	}
	return dataDir, file, nil
}

package reload

import "context"

// SetSettle replaces the wait between two looks at a changed file.
func SetSettle(r *Reloader, f func()) { r.settle = f }

// Look is one look of Watch: it reloads when a tracked file changed,
// once it reads the same twice.
func Look(r *Reloader, ctx context.Context) error {
	r.mu.Lock()
	files := r.files
	r.mu.Unlock()
	return r.look(ctx, files, settleTime)
}

// SetReadFile replaces how the watcher reads the tracked files.
func SetReadFile(r *Reloader, f func(string) ([]byte, error)) { r.readFile = f }

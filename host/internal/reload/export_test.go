package reload

// SetSettle replaces the wait between two looks at a changed file.
func SetSettle(r *Reloader, f func()) { r.settle = f }

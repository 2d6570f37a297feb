package gazetteer

// SetAfterRaise sets the hook that runs between an Upsert's check of the
// path's version and its writes (nil to clear).
func SetAfterRaise(f func()) { afterRaise = f }

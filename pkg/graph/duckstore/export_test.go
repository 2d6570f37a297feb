package duckstore

// SetMaxWithdrawRows sets the support rows one transaction withdraws from
// earlier versions and the function run after each such transaction, and
// returns a function that restores both.
func SetMaxWithdrawRows(n int, after func()) (restore func()) {
	oldN, oldAfter := maxWithdrawRows, afterWithdrawPart
	maxWithdrawRows, afterWithdrawPart = n, after
	return func() { maxWithdrawRows, afterWithdrawPart = oldN, oldAfter }
}

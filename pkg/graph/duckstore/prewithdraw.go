package duckstore

import (
	"context"
	"fmt"
	"strconv"
)

// maxWithdrawRows bounds the support rows that one transaction withdraws
// from the earlier versions of an op's path. Withdrawing a large
// spreadsheet's old version (a million rows) in the op's own transaction
// took minutes, and a transaction cut short (the graph writer's handler
// timeout, a stop) is rolled back whole, so its next attempt started again
// from nothing and could never finish. A variable only so that a test can
// split small withdrawals.
var maxWithdrawRows = 250_000

// afterWithdrawPart, when set (by a test), runs after each part of
// prewithdraw has committed.
var afterWithdrawPart func()

// prewithdraw withdraws, before Apply's transaction, the support of the
// earlier versions that an op replaces (a Final records op: its path's
// other contents; a deletion: all of its path) in transactions of at most
// maxWithdrawRows rows each, until what is left fits in one; the op's own
// transaction then withdraws the rest as before. Each part reads the
// path's stored version, withdraws only if the op is not stale, and then
// only rows that exist: those of versions no newer than the op's, which
// the op supersedes. A part that commits before the op fails stays; the
// op, delivered again, withdraws what is left. Until then the graph shows
// the path's new version beside what is left of the old one, as it does
// while a spreadsheet's batches arrive. It is called with s.mu held.
func (s *Store) prewithdraw(ctx context.Context, ops []op) error {
	large, err := s.largePaths(ctx, ops)
	if err != nil || len(large) == 0 {
		return err
	}
	done := map[string]bool{}
	for i, o := range ops {
		where, args := replaced(o)
		once := fmt.Sprint(o.doc.Path, "\x00", o.doc.SHA256, "\x00", where)
		if where == "" || !large[o.doc.Path] || done[once] {
			continue
		}
		done[once] = true
		for {
			more, err := s.withdrawPart(ctx, o, where, args)
			if err != nil {
				return fmt.Errorf("graph apply: op %d (%s): withdraw earlier versions in parts: %w", i, o.doc.Path, err)
			}
			if !more {
				break
			}
			if afterWithdrawPart != nil {
				afterWithdrawPart()
			}
		}
	}
	return nil
}

// largePaths returns the paths of ops that withdraw (see replaced) with
// more than maxWithdrawRows support rows, with one statement: only those
// can need prewithdraw's transactions, which count exactly. A folder
// removed is a batch of thousands of deletions.
func (s *Store) largePaths(ctx context.Context, ops []op) (map[string]bool, error) {
	seen := map[string]bool{}
	var paths []any
	for _, o := range ops {
		if where, _ := replaced(o); where != "" && !seen[o.doc.Path] {
			seen[o.doc.Path] = true
			paths = append(paths, o.doc.Path)
		}
	}
	large := map[string]bool{}
	err := inChunks(paths, func(part []any) error {
		rows, err := s.wconn.QueryContext(ctx, "SELECT path FROM support WHERE path IN ("+placeholders(len(part), 1)+
			") GROUP BY path HAVING count(*) > "+strconv.Itoa(maxWithdrawRows), part...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				return err
			}
			large[p] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("graph apply: count the support of earlier versions: %w", err)
	}
	return large, nil
}

// replaced returns which support rows op o withdraws when it is written
// (a condition on the support table and its arguments), or "" for an op
// that withdraws nothing or little: the chunks of a new text version
// withdraw a document's, which is small.
func replaced(o op) (string, []any) {
	switch {
	case o.kind == opDelete:
		return "path = ?", []any{o.doc.Path}
	case o.kind == opRecords && o.final:
		return "path = ? AND sha256 <> ?", []any{o.doc.Path, o.doc.SHA256}
	}
	return "", nil
}

// withdrawPart withdraws, in a transaction of its own, the first
// maxWithdrawRows (by id) of the support rows matching where that op o
// replaces, if there are more than that, and collects what they alone
// supported. It reports whether it withdrew anything.
func (s *Store) withdrawPart(ctx context.Context, o op, where string, args []any) (bool, error) {
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	b := newBatch(tx, s.wconn, s.types)
	if err := b.load(ctx, []op{o}); err != nil {
		return false, err
	}
	st := b.docs[o.doc.Path]
	if st == nil || st.deleted || o.doc.Version < st.version {
		return false, nil // stale, or nothing stored: the op withdraws nothing
	}
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM support WHERE "+where, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("count support: %w", err)
	}
	if n <= int64(maxWithdrawRows) {
		return false, nil
	}
	// The part: the rows up to the maxWithdrawRows-th smallest id.
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT id FROM support WHERE "+where+" ORDER BY id LIMIT 1 OFFSET "+strconv.Itoa(maxWithdrawRows-1),
		args...).Scan(&last); err != nil {
		return false, fmt.Errorf("find a part of the support: %w", err)
	}
	var c candidates
	if err := b.withdraw(ctx, &c, where+" AND id <= ?", append(append([]any{}, args...), last)...); err != nil {
		return false, err
	}
	if err := b.collect(ctx, &c); err != nil {
		return false, err
	}
	if err := b.collectPending(ctx); err != nil {
		return false, err
	}
	if err := b.repropsMentioned(ctx); err != nil {
		return false, err
	}
	if err := b.flush(ctx); err != nil {
		return false, err
	}
	if err := b.dropTemps(ctx); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	s.log.Info("earlier version withdrawn in part", "path", o.doc.Path, "rows", maxWithdrawRows, "rows_left", n-int64(maxWithdrawRows))
	return true, nil
}

package gazetteer_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/gazetteer"
)

// BenchmarkUpsert records a spreadsheet's 10,000 people, then each
// iteration records the next version of it (every entry rewritten), as a
// re-saved spreadsheet does.
//
//	go test ./pkg/gazetteer -run '^$' -bench Upsert
func BenchmarkUpsert(b *testing.B) {
	book, _ := openBook(b)
	ents := make([]gazetteer.Entry, 10000)
	for i := range ents {
		ents[i] = gazetteer.Entry{Label: "Person", Key: fmt.Sprintf("person %06d", i), Name: fmt.Sprintf("Person %06d", i)}
	}
	version := uint64(1)
	require.NoError(b, book.Upsert(b.Context(), ents, "people.csv", "v1", version))
	b.ResetTimer()
	for b.Loop() {
		version++
		require.NoError(b, book.Upsert(b.Context(), ents, "people.csv", fmt.Sprint("v", version), version))
	}
	b.ReportMetric(float64(len(ents))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

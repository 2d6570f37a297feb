package extractor

import (
	"fmt"
	"strings"
	"testing"
)

// benchInput returns about 1000 person and project names and a ~10 KB
// document that mentions some of them, codes and trigger phrases.
func benchInput(b *testing.B) (*Extractor, string) {
	b.Helper()
	first := strings.Fields("Ada Bram Cleo Dario Edda Femi Gita Hugo Ilse Joon Kofi Lena Milo Nadia Oren Pia Quinn Rosa Sven Tara " +
		"Uma Vito Wren Xena Yusuf Zoe Anouk Bela Cyra Duncan Elif Farid Greta Hamid Iris Jasper Kira Leif Mira Nils")
	last := strings.Fields("Abara Brandt Castillo Dahl Eklund Ferreira Grün Haddad Ivanova Jensen Kowalczyk Lindqvist Moreau " +
		"Nakamura Okafor Petrov Quist Rahman Søndergaard Tanaka Ulrich Varga Weiß Yilmaz Zielińska")
	var entries []Entry
	for _, f := range first {
		for _, l := range last {
			name := f + " " + l
			entries = append(entries, Entry{Label: "Person", Key: strings.ToLower(name), Name: name})
		}
	}
	for i := range 50 {
		entries = append(entries, Entry{Label: "Project", Key: fmt.Sprintf("PRJ-%04d", 1000+i), Name: fmt.Sprintf("%s Bridge %s Renewal", last[i%len(last)], first[i%len(first)])})
	}
	x := newTestExtractor(b, entries)
	var sb strings.Builder
	for i := 0; sb.Len() < 10<<10; i++ {
		p := entries[(i*37)%1000].Name
		fmt.Fprintf(&sb, "The steering board asked for a clearer view of forecast trends. %s leads PRJ-%04d. ", p, 1000+i%50)
		fmt.Fprintf(&sb, "Contingency was set using the approach in aace %d and the %s project. ", 10+i, entries[1000+i%50].Name)
		sb.WriteString("| R-031 | Steel price escalation above the allowance | Low |\n")
		sb.WriteString("Vendor drawings for the switchgear were returned with comments, and Karin will circulate them.\n\n")
	}
	return x, sb.String()
}

func BenchmarkExtract(b *testing.B) {
	x, doc := benchInput(b)
	m, r := x.Extract(doc)
	if len(m) == 0 || len(r) == 0 {
		b.Fatalf("benchmark document finds nothing: %d mentions, %d relationships", len(m), len(r))
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		x.Extract(doc)
	}
}

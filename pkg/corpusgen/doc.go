// Package corpusgen writes synthetic document corpora in the style of the
// sample corpus (meeting minutes, status reports, risk registers, procedure
// notes, plus the structured spreadsheets that name the people, projects and
// teams), deterministically for a seed, for benchmarks and scale tests.
//
// Generation streams: every document is written to disk as it is produced,
// and memory stays bounded by the number of people, projects and teams, not
// by the number of documents.
package corpusgen

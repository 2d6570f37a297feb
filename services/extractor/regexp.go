package extractor

import "regexp"

// reRunner runs one schema pattern over a text.
type reRunner struct{ re *regexp.Regexp }

func newRERunner(re *regexp.Regexp) *reRunner { return &reRunner{re: re} }

// findAll returns the submatch index slices of every match.
func (r *reRunner) findAll(text string) [][]int { return r.re.FindAllStringSubmatchIndex(text, -1) }

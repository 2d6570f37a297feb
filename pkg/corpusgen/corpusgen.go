package corpusgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Formats are the document formats Generate can write, and
// DefaultFormats those it writes when Options.Formats is empty.
var (
	Formats        = []string{"md", "txt", "html", "docx", "pdf"}
	DefaultFormats = []string{"md", "txt", "html", "docx"}
)

// Default sizes used for zero Options fields.
const (
	DefaultPeople   = 40
	DefaultProjects = 12
	DefaultTeams    = 6
	DefaultDocBytes = 10 << 10
)

// Limits of the vocabularies: names stay unique and disjoint up to these.
const (
	MaxPeople   = 1600 // first names x last names
	MaxProjects = 200  // places x works
	MaxTeams    = 80   // team prefixes x functions
)

// Options says what to generate. Zero sizes take the defaults.
type Options struct {
	// Docs is the number of text documents.
	Docs int
	// People, Projects and Teams size the structured data and the names the
	// documents mention.
	People, Projects, Teams int
	// DocBytes is the approximate size of one document's text.
	DocBytes int
	// Seed makes the corpus reproducible: the same options write the same
	// bytes.
	Seed int64
	// Formats are the document formats to cycle through (md, txt, html,
	// docx); empty means all.
	Formats []string
	// Spreadsheets writes the structured sources the shipped mapping
	// (schemas/structured.yaml) names: projects.xlsx (sheet Projects),
	// managers.xlsx (sheet Managers) and teams.csv. Without them, people,
	// teams and project names are unknown to the extractor.
	Spreadsheets bool
}

// Stats is the ground truth Generate knows without re-reading the corpus.
// Node and relationship counts are what ingesting the whole folder must give.
type Stats struct {
	// Documents is the number of text documents written.
	Documents int
	// Files counts every file written (documents and spreadsheets).
	Files int
	// Bytes is the total size of the files written.
	Bytes int64
	// Nodes counts the expected nodes per label, Document included (every
	// file is a document, spreadsheets too) and Chunk excluded (chunking is
	// the parser's choice).
	Nodes map[string]int
	// Relationships counts the expected domain relationships per type
	// (MANAGES from both sources, MEMBER_OF, WORKS_ON).
	Relationships map[string]int
	// TextManages is the number of distinct (person, project) pairs stated
	// by a trigger sentence somewhere in the corpus.
	TextManages int
	// Mentions counts distinct (document, label, key) mentions an
	// extractor should find; MentionsByLabel splits it per label.
	Mentions        int
	MentionsByLabel map[string]int
}

// person, project and team are the corpus's entities.
type person struct{ name, key string }

type project struct {
	code, name string
	manager    int // index into people
}

type corpus struct {
	opts     Options
	dir      string
	people   []person
	projects []project
	teams    []string

	dirs sync.Map // folders already created

	mu          sync.Mutex // guards what follows
	stats       Stats
	manages     map[[2]int]bool // text MANAGES (person, project)
	procedures  map[string]bool // procedure keys mentioned
	codesInText map[string]bool // project codes mentioned by code
}

// Generate writes a corpus into dir (created if missing; it must be empty)
// and returns its ground truth. Documents are written one at a time and
// never kept in memory.
func Generate(dir string, opts Options) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	if err := prepareDir(dir); err != nil {
		return Stats{}, err
	}
	c := newCorpus(dir, opts)
	if opts.Spreadsheets {
		if err := c.writeSpreadsheets(); err != nil {
			return Stats{}, err
		}
	}
	if err := c.writeDocuments(); err != nil {
		return Stats{}, err
	}
	c.finish()
	return c.stats, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.People == 0 {
		o.People = DefaultPeople
	}
	if o.Projects == 0 {
		o.Projects = DefaultProjects
	}
	if o.Teams == 0 {
		o.Teams = DefaultTeams
	}
	if o.DocBytes == 0 {
		o.DocBytes = DefaultDocBytes
	}
	if len(o.Formats) == 0 {
		o.Formats = DefaultFormats
	}
	var errs []error
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s (%d): must be from %d to %d", name, v, lo, hi))
		}
	}
	check("docs", o.Docs, 0, 10_000_000)
	check("people", o.People, 1, MaxPeople)
	check("projects", o.Projects, 1, MaxProjects)
	check("teams", o.Teams, 1, min(MaxTeams, o.People))
	check("doc bytes", o.DocBytes, 1, 64<<20)
	for _, f := range o.Formats {
		if !slices.Contains(Formats, f) {
			errs = append(errs, fmt.Errorf("format %q: want one of %s", f, strings.Join(Formats, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("corpusgen: %w", err)
	}
	return o, nil
}

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("corpusgen: %s is not empty", dir)
	}
	return nil
}

func newCorpus(dir string, opts Options) *corpus {
	c := &corpus{
		opts: opts, dir: dir,
		manages: map[[2]int]bool{}, procedures: map[string]bool{}, codesInText: map[string]bool{},
		stats: Stats{Nodes: map[string]int{}, Relationships: map[string]int{}, MentionsByLabel: map[string]int{}},
	}
	// Bijections of the index ranges, offset by the seed, give distinct
	// names in a seed-dependent order.
	seed := uint64(opts.Seed)
	np := len(firstNames) * len(lastNames)
	for i := range opts.People {
		j := int((uint64(i)*7 + seed*131) % uint64(np))
		q, r := j/len(firstNames), j%len(firstNames)
		name := firstNames[r] + " " + lastNames[(q+r)%len(lastNames)]
		c.people = append(c.people, person{name: name, key: strings.ToLower(name)})
	}
	nw := len(places) * len(works)
	for i := range opts.Projects {
		j := int((uint64(i)*13 + seed*17) % uint64(nw))
		q, r := j/len(works), j%len(works)
		c.projects = append(c.projects, project{
			code:    fmt.Sprintf("PRJ-%04d", 1000+(uint64(i)*7919+seed*31)%9000),
			name:    places[(q+r)%len(places)] + " " + works[r],
			manager: (i*3 + int(seed%7)) % opts.People,
		})
	}
	nt := len(teamPrefixes) * len(teamFunctions)
	for i := range opts.Teams {
		j := int((uint64(i)*3 + seed*7) % uint64(nt))
		q, r := j/len(teamFunctions), j%len(teamFunctions)
		c.teams = append(c.teams, teamPrefixes[(q+r)%len(teamPrefixes)]+" "+teamFunctions[r])
	}
	return c
}

// finish computes the expected graph counts.
func (c *corpus) finish() {
	s := &c.stats
	s.Nodes["Document"] = s.Files
	s.Nodes["Procedure"] = len(c.procedures)
	if c.opts.Spreadsheets {
		s.Nodes["Person"] = len(c.people)
		s.Nodes["Project"] = len(c.projects)
		s.Nodes["Team"] = len(c.teams)
		s.TextManages = len(c.manages)
		s.Relationships["MANAGES"] = len(c.projects) + len(c.manages)
		s.Relationships["MEMBER_OF"] = len(c.people)
		s.Relationships["WORKS_ON"] = len(c.teams)
	} else {
		s.Nodes["Project"] = len(c.codesInText)
	}
	for k, v := range s.Nodes {
		if v == 0 {
			delete(s.Nodes, k)
		}
	}
}

// docKinds are the document kinds, each with its folder.
var docKinds = []struct{ dir, slug string }{
	{"minutes", "steering-committee"}, {"status", "weekly-status"}, {"risks", "risk-register"},
	{"procedures", "procedure-note"}, {"minutes", "controls-meeting"},
}

// writers is how many documents are written at once: file creation is
// mostly waiting on the file system.
const writers = 4

func (c *corpus) writeDocuments() error {
	var g errgroup.Group
	next := make(chan int)
	stop := make(chan struct{})
	var once sync.Once
	for range writers {
		g.Go(func() error {
			for i := range next {
				if err := c.writeDocument(i); err != nil {
					once.Do(func() { close(stop) })
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for i := range c.opts.Docs {
			select {
			case next <- i:
			case <-stop:
				return nil
			}
		}
		return nil
	})
	return g.Wait()
}

func (c *corpus) mkdir(dir string) error {
	if _, ok := c.dirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	c.dirs.Store(dir, true)
	return nil
}

func (c *corpus) writeDocument(i int) error {
	rng := rand.New(rand.NewPCG(uint64(c.opts.Seed), uint64(i)+1))
	kind := docKinds[i%len(docKinds)]
	format := c.opts.Formats[(i/len(docKinds)+i)%len(c.opts.Formats)]
	rel := fmt.Sprintf("%s/%06d-%s.%s", kind.dir, i, kind.slug, format)
	path := filepath.Join(c.dir, filepath.FromSlash(rel))
	if err := c.mkdir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	d := &docWriter{c: c, rng: rng, mentions: map[[2]string]bool{},
		manages: map[[2]int]bool{}, procedures: map[string]bool{}, codes: map[string]bool{}}
	d.out, d.cw = newRenderer(format, f, rng)
	d.write(i, kind.slug)
	err = errors.Join(d.out.close(), f.Close())
	if err != nil {
		return fmt.Errorf("corpusgen: write %s: %w", rel, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range d.manages {
		c.manages[k] = true
	}
	for k := range d.procedures {
		c.procedures[k] = true
	}
	for k := range d.codes {
		c.codesInText[k] = true
	}
	c.stats.Documents++
	c.stats.Files++
	c.stats.Bytes += d.cw.n
	for k, byPattern := range d.mentions {
		if c.opts.Spreadsheets || byPattern {
			c.stats.Mentions++
			c.stats.MentionsByLabel[k[0]]++
		}
	}
	return nil
}

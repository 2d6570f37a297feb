package corpusgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// docWriter writes one document and records what it mentions.
type docWriter struct {
	c   *corpus
	rng *rand.Rand
	out renderer
	cw  *countingWriter
	// mentions maps (label, key) to whether a pattern finds it (true) or
	// only the gazetteer of structured names (false).
	mentions map[[2]string]bool
	// manages, procedures and codes are merged into the corpus's sets
	// when the document is done.
	manages    map[[2]int]bool
	procedures map[string]bool
	codes      map[string]bool
}

func (d *docWriter) mention(label, key string, byPattern bool) {
	d.mentions[[2]string{label, key}] = d.mentions[[2]string{label, key}] || byPattern
}

func (d *docWriter) pick(list []string) string { return list[d.rng.IntN(len(list))] }

func (d *docWriter) person() string {
	p := d.c.people[d.rng.IntN(len(d.c.people))]
	d.mention("Person", p.key, false)
	return p.name
}

func (d *docWriter) projectIndex() int { return d.rng.IntN(len(d.c.projects)) }

func (d *docWriter) code(j int) string {
	p := d.c.projects[j]
	d.mention("Project", p.code, true)
	d.codes[p.code] = true
	return p.code
}

func (d *docWriter) projectName(j int) string {
	p := d.c.projects[j]
	d.mention("Project", p.code, false)
	return p.name
}

func (d *docWriter) team() string {
	t := d.c.teams[d.rng.IntN(len(d.c.teams))]
	d.mention("Team", strings.ToLower(t), false)
	return t
}

// procedure returns a procedure code in one of the six spellings.
func (d *docWriter) procedure() string {
	p := procedures[d.rng.IntN(len(procedures))]
	key := p[0] + "-" + p[1]
	d.mention("Procedure", key, true)
	d.procedures[key] = true
	prefix := p[0]
	switch d.rng.IntN(6) {
	case 0:
		return prefix + " " + p[1]
	case 1:
		return strings.ToLower(prefix) + "-" + p[1]
	case 2:
		return strings.ToLower(prefix) + " " + p[1]
	case 3:
		return prefix + p[1]
	case 4:
		return prefix[:1] + strings.ToLower(prefix[1:]) + "-" + p[1]
	default:
		return key
	}
}

// managesSentence states a MANAGES pair with a trigger phrase: the structured
// manager half of the time, someone else otherwise.
func (d *docWriter) managesSentence() string {
	j := d.projectIndex()
	pi := d.c.projects[j].manager
	if d.rng.IntN(2) == 0 {
		pi = d.rng.IntN(len(d.c.people))
	}
	p := d.c.people[pi]
	d.mention("Person", p.key, false)
	d.manages[[2]int{pi, j}] = true
	return fmt.Sprintf(d.pick(managesTriggers), p.name, d.code(j))
}

// sentence returns one sentence: mostly filler, the rest mentions.
func (d *docWriter) sentence() string {
	switch n := d.rng.IntN(20); {
	case n < 10:
		return d.pick(fillers)
	case n < 12:
		return fmt.Sprintf(d.pick(personActions), d.person())
	case n < 14:
		return fmt.Sprintf(d.pick(projectActions), d.code(d.projectIndex()))
	case n < 15:
		return fmt.Sprintf(d.pick(projectActions), d.projectName(d.projectIndex()))
	case n < 16:
		return fmt.Sprintf(d.pick(teamActions), d.team())
	case n < 18:
		return fmt.Sprintf(d.pick(procedureActions), d.procedure())
	default:
		return d.managesSentence()
	}
}

func (d *docWriter) paragraph() string {
	n := 3 + d.rng.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = d.sentence()
	}
	return strings.Join(parts, " ")
}

// full reports whether the document has reached its size.
func (d *docWriter) full() bool { return d.out.textBytes() >= d.c.opts.DocBytes }

var sections = []string{
	"Review of previous actions", "Project updates", "Procedures and standards", "Progress",
	"Cost and schedule", "Issues and risks", "Any other business", "Next steps",
}

func (d *docWriter) write(i int, slug string) {
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%700)
	title := strings.ToUpper(slug[:1]) + strings.ReplaceAll(slug[1:], "-", " ")
	d.out.heading(1, fmt.Sprintf("%s – %s", title, date.Format("2 January 2006")))
	d.out.para(fmt.Sprintf("Date: %s. Location: Meeting Room %d and online.", date.Format(time.DateOnly), 1+d.rng.IntN(9)))
	attendees := make([]string, 2+d.rng.IntN(3))
	for k := range attendees {
		attendees[k] = d.person()
	}
	d.out.para("Attendees: " + strings.Join(attendees, ", "))
	for s := 0; !d.full(); s++ {
		d.out.heading(2, fmt.Sprintf("%d. %s", s+1, sections[s%len(sections)]))
		switch d.rng.IntN(6) {
		case 0:
			items := make([]string, 2+d.rng.IntN(3))
			for k := range items {
				j := d.projectIndex()
				items[k] = d.code(j) + ": " + d.sentence()
			}
			d.out.bullets(items)
		case 1:
			rows := make([][]string, 2+d.rng.IntN(3))
			for k := range rows {
				rows[k] = []string{fmt.Sprint(k + 1), d.pick(actionItems), d.person(),
					date.AddDate(0, 0, 7*(k+1)).Format(time.DateOnly)}
			}
			d.out.table([]string{"#", "Action", "Owner", "Due"}, rows)
		case 2:
			rows := make([][]string, 2+d.rng.IntN(2))
			for k := range rows {
				rows[k] = []string{d.pick(riskTitles), d.code(d.projectIndex()), d.pick([]string{"High", "Medium", "Low"})}
			}
			d.out.table([]string{"Risk", "Project", "Rating"}, rows)
		}
		for range 1 + d.rng.IntN(3) {
			d.out.para(d.paragraph())
		}
	}
}

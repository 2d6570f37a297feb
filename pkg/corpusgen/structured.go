package corpusgen

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// writeSpreadsheets writes the three structured sources of the shipped
// mapping. Every person is a member of one team (teams.csv), every team
// works on one project, every project has a manager (projects.xlsx), and
// managers.xlsx lists the managers with role and e-mail.
func (c *corpus) writeSpreadsheets() error {
	if err := c.writeTeams(); err != nil {
		return err
	}
	proj := [][]any{{"code", "status", "name", "start_date", "budget", "manager"}}
	for i, p := range c.projects {
		start := time.Date(2022, 1, 3, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 17*i%900)
		proj = append(proj, []any{p.code, statuses[i%len(statuses)], p.name, start.Format(time.DateOnly),
			float64(250_000 + 12_345*(i%97)), c.people[p.manager].name})
	}
	if err := c.writeXLSX("projects.xlsx", "Projects", proj); err != nil {
		return err
	}
	mgr := [][]any{{"email", "role", "name"}}
	seen := map[int]bool{}
	for _, p := range c.projects {
		if seen[p.manager] {
			continue
		}
		seen[p.manager] = true
		name := c.people[p.manager].name
		email := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(name, " ", "."), "'", "")) + "@example.com"
		mgr = append(mgr, []any{email, "Project manager", name})
	}
	return c.writeXLSX("managers.xlsx", "Managers", mgr)
}

func (c *corpus) writeTeams() error {
	path := filepath.Join(c.dir, "teams.csv")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	cw := &countingWriter{w: f}
	bw := bufio.NewWriter(cw)
	w := csv.NewWriter(bw)
	w.UseCRLF = true
	rows := [][]string{{"member_name", "project_code", "team_name", "role"}}
	for i, p := range c.people {
		t := i % len(c.teams)
		code := c.projects[t%len(c.projects)].code
		if i%7 == 3 {
			code = strings.ToLower(code)
		}
		rows = append(rows, []string{p.name, code, c.teams[t], roles[i%len(roles)]})
	}
	err = w.WriteAll(rows) // flushes
	err = errors.Join(err, bw.Flush(), f.Close())
	if err != nil {
		return fmt.Errorf("corpusgen: write teams.csv: %w", err)
	}
	c.stats.Files++
	c.stats.Bytes += cw.n
	return nil
}

func (c *corpus) writeXLSX(name, sheet string, rows [][]any) error {
	f := excelize.NewFile()
	err := func() error {
		if err := f.SetSheetName("Sheet1", sheet); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return err
		}
		for i, r := range rows {
			cell, err := excelize.CoordinatesToCellName(1, i+1)
			if err != nil {
				return err
			}
			if err := sw.SetRow(cell, r); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
		return f.SaveAs(filepath.Join(c.dir, name))
	}()
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("corpusgen: write %s: %w", name, err)
	}
	st, err := os.Stat(filepath.Join(c.dir, name))
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	c.stats.Files++
	c.stats.Bytes += st.Size()
	return nil
}

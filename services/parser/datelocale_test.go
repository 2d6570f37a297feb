package parser_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/services/parser"
)

// dateLocaleMapping reads a register whose dates name their months and
// weekdays in the language locale: day in the format dayFormat, and at,
// a datetime with a weekday and a month.
func dateLocaleMapping(locale, dayFormat, atFormat string) string {
	return fmt.Sprintf(`
sources:
  - name: register
    files: [register.csv]
    format: csv
    csv: {delimiter: ";"}
    columns:
      - {name: id, type: int, required: true}
      - {name: day, type: date, format: %q, locale: %s}
      - {name: at, type: datetime, format: %q, locale: %s}
    nodes:
      - label: Project
        key: id
        properties: [day, at]
`, dayFormat, locale, atFormat, locale)
}

// TestCSVDateLocales reads month and weekday names in each language:
// full and abbreviated, with and without a dot, in upper and lower case,
// accented or not; a name in another language is a row error naming the
// format and the locale, with its line.
func TestCSVDateLocales(t *testing.T) {
	tests := []struct {
		locale    string
		dayFormat string
		atFormat  string
		rows      []string // "day;at", from line 2
		want      map[string]map[string]any
		wrong     string // line 2+len(rows): a day in another language
	}{
		{
			locale: "de", dayFormat: "D. MMMM YYYY", atFormat: "dddd, D. MMM YYYY HH:mm",
			rows: []string{
				"5. März 2024;Dienstag, 5. Mär. 2024 09:30",
				"5. MÄRZ 2024;DIENSTAG, 5. MRZ 2024 09:30",
				"5. Marz 2024;di, 5. mär 2024 09:30",
				"1. Dez. 2024;So., 1. Dezember 2024 23:59",
				"31. januar 2025;Fr., 31. Jan. 2025 00:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"2": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"3": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"4": {"day": "2024-12-01", "at": "2024-12-01T23:59:00"},
				"5": {"day": "2025-01-31", "at": "2025-01-31T00:00:00"},
			},
			wrong: "5. March 2024",
		},
		{
			locale: "fr", dayFormat: "D MMMM YYYY", atFormat: "dddd D MMM YYYY HH:mm",
			rows: []string{
				"5 mars 2024;mardi 5 mars 2024 09:30",
				"5 FÉVRIER 2024;LUNDI 5 FÉVR. 2024 09:30",
				"5 fevrier 2024;lun. 5 fev 2024 09:30",
				"15 août 2024;jeu. 15 aout 2024 12:00",
				"1 janv. 2025;mer 1 janvier 2025 00:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"2": {"day": "2024-02-05", "at": "2024-02-05T09:30:00"},
				"3": {"day": "2024-02-05", "at": "2024-02-05T09:30:00"},
				"4": {"day": "2024-08-15", "at": "2024-08-15T12:00:00"},
				"5": {"day": "2025-01-01", "at": "2025-01-01T00:00:00"},
			},
			wrong: "5 März 2024",
		},
		{
			locale: "es", dayFormat: "D [de] MMMM [de] YYYY", atFormat: "ddd D MMM YYYY HH:mm",
			rows: []string{
				"5 de marzo de 2024;mar 5 mar 2024 09:30",
				"5 de MARZO de 2024;MAR. 5 MAR. 2024 09:30",
				"6 de mar. de 2024;miércoles 6 marzo 2024 09:30",
				"7 de Sept de 2024;sáb 7 sep 2024 10:00",
				"1 de ene de 2025;mie 1 ENERO 2025 00:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"2": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"3": {"day": "2024-03-06", "at": "2024-03-06T09:30:00"},
				"4": {"day": "2024-09-07", "at": "2024-09-07T10:00:00"},
				"5": {"day": "2025-01-01", "at": "2025-01-01T00:00:00"},
			},
			wrong: "5 de mars de 2024",
		},
		{
			locale: "it", dayFormat: "D MMMM YYYY", atFormat: "ddd D MMM YYYY HH:mm",
			rows: []string{
				"5 maggio 2024;mar 5 mag 2024 09:30",
				"5 MAGGIO 2024;MARTEDÌ 5 MAG. 2024 09:30",
				"5 mag. 2024;martedi 5 maggio 2024 09:30",
				"1 dic 2024;dom. 1 dicembre 2024 18:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-05-05", "at": "2024-05-05T09:30:00"},
				"2": {"day": "2024-05-05", "at": "2024-05-05T09:30:00"},
				"3": {"day": "2024-05-05", "at": "2024-05-05T09:30:00"},
				"4": {"day": "2024-12-01", "at": "2024-12-01T18:00:00"},
			},
			wrong: "5 mayo 2024",
		},
		{
			locale: "nl", dayFormat: "D MMMM YYYY", atFormat: "dddd D MMM YYYY HH:mm",
			rows: []string{
				"5 maart 2024;dinsdag 5 mrt 2024 09:30",
				"5 MAART 2024;DI. 5 MRT. 2024 09:30",
				"5 mrt. 2024;di 5 maart 2024 09:30",
				"1 okt 2024;dinsdag 1 oktober 2024 10:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"2": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"3": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"4": {"day": "2024-10-01", "at": "2024-10-01T10:00:00"},
			},
			wrong: "5 octobre 2024",
		},
		{
			locale: "pt", dayFormat: "D [de] MMMM [de] YYYY", atFormat: "dddd, D MMM YYYY HH:mm",
			rows: []string{
				"5 de março de 2024;terça-feira, 5 mar 2024 09:30",
				"5 de MARÇO de 2024;TERÇA, 5 MAR. 2024 09:30",
				"5 de marco de 2024;ter., 5 março 2024 09:30",
				"1 de dez. de 2024;domingo, 1 dezembro 2024 08:00",
			},
			want: map[string]map[string]any{
				"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"2": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"3": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
				"4": {"day": "2024-12-01", "at": "2024-12-01T08:00:00"},
			},
			wrong: "5 de marzo de 2024",
		},
	}
	for _, tt := range tests {
		t.Run(tt.locale, func(t *testing.T) {
			s := newStructured(t, mustMapping(t, dateLocaleMapping(tt.locale, tt.dayFormat, tt.atFormat)), parser.StructuredConfig{})
			content := "id;day;at\n"
			for i, r := range tt.rows {
				content += fmt.Sprintf("%d;%s\n", i+1, r)
			}
			wrongID := len(tt.rows) + 1
			content += fmt.Sprintf("%d;%s;\n", wrongID, tt.wrong)
			p, err := parseFile(t, s, "register.csv", writeTemp(t, "register.csv", content))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.properties(t))
			assert.Equal(t, []event.RowError{{
				Line: wrongID + 1, Column: "day", Value: tt.wrong,
				Error: fmt.Sprintf("not a date in the format %s (locale %s)", tt.dayFormat, tt.locale),
			}}, p.rejected())
		})
	}
}

// TestCSVDateLocalesErrors reports, with their lines, names of the wrong
// kind, in the wrong order or language, and text around the names that
// the format does not write. A weekday is checked for its spelling alone,
// as without a locale.
func TestCSVDateLocalesErrors(t *testing.T) {
	s := newStructured(t, mustMapping(t, dateLocaleMapping("de", "D. MMMM YYYY", "ddd, D. MMM YYYY HH:mm")), parser.StructuredConfig{})
	content := "id;day;at\n" +
		"1;5. März 2024;Di, 5. Mär 2024 09:30\n" +
		"2;5. Dienstag 2024;\n" +
		"3;;Mär, 5. Di 2024 09:30\n" +
		"4;;Mi, 5. Mär 2024 09:30\n" +
		"5;5 März 2024;\n" +
		"6;am 5. März 2024;\n" +
		"7;5. 3. 2024;\n"
	p, err := parseFile(t, s, "register.csv", writeTemp(t, "register.csv", content))
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"day": "2024-03-05", "at": "2024-03-05T09:30:00"},
		"4": {"at": "2024-03-05T09:30:00"},
	}, p.properties(t))
	const day, at = "not a date in the format D. MMMM YYYY (locale de)", "not a date in the format ddd, D. MMM YYYY HH:mm (locale de)"
	assert.Equal(t, []event.RowError{
		{Line: 3, Column: "day", Value: "5. Dienstag 2024", Error: day},
		{Line: 4, Column: "at", Value: "Mär, 5. Di 2024 09:30", Error: at},
		{Line: 6, Column: "day", Value: "5 März 2024", Error: day},
		{Line: 7, Column: "day", Value: "am 5. März 2024", Error: day},
		{Line: 8, Column: "day", Value: "5. 3. 2024", Error: day},
	}, p.rejected())
}

// TestXLSXDateLocales reads a German date written in a text cell, while a
// date cell stays the date it is.
func TestXLSXDateLocales(t *testing.T) {
	m := mustMapping(t, `
sources:
  - name: book
    files: ["*.xlsx"]
    format: xlsx
    columns:
      - {name: id, type: int, required: true}
      - {name: day, type: date, format: "D. MMMM YYYY", locale: de}
    nodes:
      - label: Thing
        key: id
        properties: [day]
`)
	s := newStructured(t, m, parser.StructuredConfig{})
	file := writeWorkbook(t, "book.xlsx", map[string][][]any{
		"Data": {
			{"id", "day"},
			{1, "5. März 2024"},
			{2, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
			{3, "5. Mrz. 2024"},
			{4, "5. March 2024"},
		},
	}, false)
	p, err := parseFile(t, s, "book.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"day": "2024-03-05"},
		"2": {"day": "2024-03-01"},
		"3": {"day": "2024-03-05"},
	}, p.properties(t))
	assert.Equal(t, []event.RowError{
		{Line: 5, Column: "day", Value: "5. March 2024", Error: "not a date in the format D. MMMM YYYY (locale de)"},
	}, p.rejected())
}

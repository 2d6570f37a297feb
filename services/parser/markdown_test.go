package parser

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExtractMarkdown checks the whole text of small Markdown documents:
// what a reader sees, with each block on its own lines.
func TestExtractMarkdown(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{
			name: "YAML front matter is not text",
			give: "---\ntitle: Weekly status\nauthor: Lars Çelik\nproject: PRJ-9999\n---\nIrene Çelik manages PRJ-1234.\n",
			want: "Irene Çelik manages PRJ-1234.\n",
		},
		{
			name: "front matter closed by dots",
			give: "---\nowner: Paul Saito\n...\n\n# Minutes\n",
			want: "Minutes\n",
		},
		{
			name: "an unclosed front matter is not one",
			give: "---\nLina Farrell manages PRJ-7770.\n",
			want: "Lina Farrell manages PRJ-7770.\n",
		},
		{
			name: "struck-through text is left out",
			give: "Lina Farrell manages ~~PRJ-1000~~ PRJ-2000.\nIrene Çelik leads ~PRJ-3000~ nothing.\n",
			want: "Lina Farrell manages  PRJ-2000.\nIrene Çelik leads  nothing.\n",
		},
		{
			name: "tildes that strike nothing stay",
			give: "The budget is ~10k for ~5 people ~ more or less, ~~ not struck.\n",
			want: "The budget is ~10k for ~5 people ~ more or less, ~~ not struck.\n",
		},
		{
			name: "code span content is literal",
			give: "Use `<b>bold</b>` and `a &amp; b` and `**x**`.\n",
			want: "Use <b>bold</b> and a &amp; b and **x**.\n",
		},
		{
			name: "brackets that are not links stay",
			give: "Read a[0][1] and [draft] and [x][missing].\n",
			want: "Read a[0][1] and [draft] and [x][missing].\n",
		},
		{
			name: "single emphasis markers go, literal stars stay",
			give: "By *Paul Saito* and _Lina Farrell_, 2 * 3 and snake_case_name.\n",
			want: "By Paul Saito and Lina Farrell, 2 * 3 and snake_case_name.\n",
		},
		{
			name: "heading followed by a paragraph",
			give: "# Owners\nLars Çelik manages PRJ-1234.\n## Next\nSetext\n---\nText\n",
			want: "Owners\n\nLars Çelik manages PRJ-1234.\n\nNext\n\nSetext\n\nText\n",
		},
		{
			name: "table rows keep their cells apart, one row a line",
			give: "Owners:\n| Project | Manager |\n| :-- | --: |\n| PRJ-1 | **Lars Çelik** |\nPRJ-2 | [Irene](https://x.example/PRJ-9999) \\| Paul\n## Notes\n",
			want: "Owners:\n\n| Project | Manager |\n| PRJ-1 | Lars Çelik |\n| PRJ-2 | Irene | Paul |\n\nNotes\n",
		},
		{
			name: "nested badge links keep only their text",
			give: "[![Coverage](https://img.example/PRJ-2222.svg \"cov :)\")](https://ci.example/PRJ-3333) [![Build][badge]][ci] done\n\n[badge]: https://img.example/PRJ-4444.svg\n[ci]: https://ci.example/PRJ-5555\n",
			want: "Coverage Build done\n",
		},
		{
			name: "link reference definitions, also over several lines, are not shown",
			give: "See [the plan].\n\n[the plan]:\n  https://x.example/PRJ-9999\n  \"Plan by Paul Saito\"\n[other]: /PRJ-8888\n'Title PRJ-7777'\n",
			want: "See the plan.\n",
		},
		{
			name: "footnote definitions are text, references are not",
			give: "Lars Çelik[^1] manages PRJ-1234.\n\n[^1]: Since *March*.\n[^src]: https://x.example/PRJ-7770\n",
			want: "Lars Çelik manages PRJ-1234.\n\nSince March.\n\nhttps://x.example/PRJ-7770\n",
		},
		{
			name: "inline HTML: inline tags glue, block tags separate, also over lines",
			give: "<b>Far</b>rell and <span\nclass=\"x\">Lina</span> Farrell, a<br/>b, c<td>d <!-- note\nby Paul Saito -->end\n",
			want: "Farrell and Lina Farrell, a b, c d end\n",
		},
		{
			name: "inline HTML: superscripts and subscripts separate",
			give: "Lina Farrell<sup>1</sup> leads PRJ-1234<sub>a</sub>.\n",
			want: "Lina Farrell 1 leads PRJ-1234 a .\n",
		},
		{
			name: "HTML blocks give their visible text",
			give: "<div align=\"center\">\n<p>Lars <b>Çelik</b></p>\n<!-- Paul Saito -->\n<script>PRJ-9999</script>\n</div>\n\nAfter.\n",
			want: "Lars Çelik\n\nAfter.\n",
		},
		{
			name: "entities and escapes decoded outside code only",
			give: "O&#39;Neill &amp; Çelik &#x2013; &copy; &copy \\&amp; \\*not emphasis\\* `&lt;`\n",
			want: "O'Neill & Çelik – © &copy &amp; *not emphasis* &lt;\n",
		},
		{
			name: "fenced and indented code kept as written, without fences",
			give: "```go\n<b>x</b> [a](b) &amp; **y**\n\n  z\n```\n\n    indented *code*\n",
			want: "<b>x</b> [a](b) &amp; **y**\n\n  z\n\nindented *code*\n",
		},
		{
			name: "lists keep markers, blockquotes lose theirs",
			give: "- Lars\n- Irene\n  1. PRJ-1\n  1. PRJ-2\n\n> Quoted by\n> Paul Saito.\n\n7) seven\n7) eight\n",
			want: "- Lars\n- Irene\n  1. PRJ-1\n  2. PRJ-2\n\nQuoted by\nPaul Saito.\n\n7) seven\n8) eight\n",
		},
		{
			name: "wrapped list items go on under their text",
			give: "- The group noted that Bo Li manages\n  PRJ-2004 from next week.\n- Siobhán O'Brien\\\n  leads\n  - nested,\n    wrapped\n\n10. Anne-Marie Lefèvre\nleads PRJ-2002.\n\n    Second paragraph\n    of the item.\n",
			want: "- The group noted that Bo Li manages\n  PRJ-2004 from next week.\n- Siobhán O'Brien\n  leads\n  - nested,\n    wrapped\n\n10. Anne-Marie Lefèvre\n    leads PRJ-2002.\n\n    Second paragraph\n    of the item.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractText("m.md", []byte(tt.give))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

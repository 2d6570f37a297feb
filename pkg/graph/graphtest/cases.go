package graphtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// Documents the cases share. Version numbers follow the files stream: a
// later state of a path has a higher version.
var (
	docA1 = event.NewDocument("notes/a.md", sha("a v1"), 120, 1)
	docA2 = event.NewDocument("notes/a.md", sha("a v2"), 80, 5)
	docB1 = event.NewDocument("notes/b.txt", sha("b v1"), 64, 2)
	// copyA1 has docA1's content at another path.
	copyA1  = event.NewDocument("copies/a.md", sha("a v1"), 120, 9)
	people1 = event.NewDocument("data/people.csv", sha("people v1"), 300, 3)
	people2 = event.NewDocument("data/people.csv", sha("people v2"), 310, 7)
	// managers1 is another spreadsheet naming some of people's nodes.
	managers1 = event.NewDocument("data/managers.csv", sha("managers v1"), 200, 2)
	// twinA and twinB hold identical bytes at different paths.
	twinA = event.NewDocument("twins/one.md", sha("same bytes"), 10, 4)
	twinB = event.NewDocument("twins/two.md", sha("same bytes"), 10, 6)
	// twinAgain is twinA's path written again after a deletion.
	twinAgain = event.NewDocument("twins/one.md", sha("other bytes"), 12, 6)
	docB8     = event.NewDocument("notes/b.txt", sha("b v8"), 70, 8)
	docB10    = event.NewDocument("notes/b.txt", sha("b v10"), 72, 10)
	unicode   = event.NewDocument("protokolle/Überprüfung Protokoll – März 2024 (Entwurf) ✓.md", sha("ü"), 42, 8)
)

const hostile = "x`}) DETACH DELETE n //"

func cases() []testCase {
	alice, bob, apollo := ref("Person", "alice"), ref("Person", "bob"), ref("Project", "apollo")
	manages := textRel("MANAGES", alice, apollo)
	// docA1 cut into three chunks (inThree), then into one (inOne): recut.
	apolloNode := node("Project", "apollo", nil)
	inThree := []graph.Op{
		cutOp(docA1, 3, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice"), apolloNode),
		cutOp(docA1, 3, 1, "Bob helps.", nil, person("bob")),
		cutOp(docA1, 3, 2, "Carol too.", []graph.Relationship{textRel("WORKS_ON", ref("Person", "carol"), apollo)}, person("carol")),
	}
	inOne := cutOp(docA1, 1, 0, "Alice manages Apollo. Bob helps.", []graph.Relationship{manages}, person("alice"), apolloNode, person("bob"))
	// A document cut into two chunks, then into one, its first.
	inTwo := func(d event.Document) []graph.Op {
		return []graph.Op{
			cutOp(d, 2, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice"), apolloNode),
			cutOp(d, 2, 1, "Carol helps.", nil, person("carol")),
		}
	}
	inOneOfTwo := func(d event.Document) graph.Op {
		return cutOp(d, 1, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice"), apolloNode)
	}
	recut := Export{
		Nodes: []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Alice manages Apollo. Bob helps."),
			person("alice"), person("bob"), node("Project", "apollo", nil)},
		Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice"),
			mentions(docA1, 0, "Person", "bob"), mentions(docA1, 0, "Project", "apollo"), exported(manages)},
	}
	aliceProps := node("Person", "alice", map[string]any{"name": "Alice", "email": "alice@example.com"})
	return []testCase{
		{
			name: "chunk creates document, chunk, mentions and relationships",
			steps: []step{{ops: []graph.Op{
				chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages},
					person("alice"), node("Project", "apollo", nil)),
			}}},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Alice manages Apollo."),
					person("alice"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice"),
					mentions(docA1, 0, "Project", "apollo"), exported(manages)},
			},
		},
		{
			name: "repeated writes are idempotent",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice")),
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice")),
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
				}},
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice")),
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
				}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(people1), chunkNode(docA1, 0, "Alice manages Apollo."),
					aliceProps, node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice"),
					exported(manages)},
			},
		},
		{
			name: "an entity mentioned twice in a chunk is mentioned once",
			steps: []step{
				{ops: []graph.Op{chunkOp(docA1, 0, "Alice, Alice.", person("alice"), person("alice"))}},
				{ops: []graph.Op{chunkOp(docA1, 0, "Alice, Alice.", person("alice"), person("alice"))}},
				{ops: []graph.Op{chunkOp(docB1, 0, "Alice, and Alice.", person("alice"), person("alice"), person("alice"))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(docB1), chunkNode(docA1, 0, "Alice, Alice."),
					chunkNode(docB1, 0, "Alice, and Alice."), person("alice")},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(docB1, 0),
					mentions(docA1, 0, "Person", "alice"), mentions(docB1, 0, "Person", "alice")},
			},
		},
		{
			name: "new version replaces chunks and mentions",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages},
						person("alice"), node("Project", "apollo", nil)),
					chunkOp(docA1, 1, "Bob helps.", person("bob")),
				}},
				{ops: []graph.Op{chunkOp(docA2, 0, "Alice alone.", person("alice"))}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA2), chunkNode(docA2, 0, "Alice alone."), person("alice")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), mentions(docA2, 0, "Person", "alice")},
			},
		},
		{
			name: "new version of several chunks replaces the old chunks and mentions",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages},
						person("alice"), node("Project", "apollo", nil)),
					chunkOp(docA1, 1, "Bob helps.", person("bob")),
				}},
				{ops: []graph.Op{
					chunkOp(docA2, 0, "Alice alone.", person("alice")),
					chunkOp(docA2, 1, "Carol joins.", person("carol")),
				}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA2), chunkNode(docA2, 0, "Alice alone."), chunkNode(docA2, 1, "Carol joins."),
					person("alice"), person("carol")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), hasChunk(docA2, 1),
					mentions(docA2, 0, "Person", "alice"), mentions(docA2, 1, "Person", "carol")},
			},
		},
		{
			// As when new names make the extractor read a document again.
			name: "chunks written again at the same version replace their mentions and relationships",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo. Bob too.",
						[]graph.Relationship{manages, textRel("WORKS_ON", bob, apollo)}, person("alice"), person("bob")),
					chunkOp(docA1, 1, "Dave.", person("dave")),
				}},
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo. Bob too.", []graph.Relationship{manages}, person("alice")),
					chunkOp(docA1, 1, "Dave.", person("dave"), person("carol")),
				}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Alice manages Apollo. Bob too."), chunkNode(docA1, 1, "Dave."),
					person("alice"), person("carol"), person("dave"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(docA1, 1),
					mentions(docA1, 0, "Person", "alice"), mentions(docA1, 1, "Person", "carol"), mentions(docA1, 1, "Person", "dave"),
					exported(manages)},
			},
		},
		{
			// As when the parser runs again with a larger chunk size.
			name:  "the same content cut into fewer chunks loses the chunks past its last",
			steps: []step{{ops: inThree}, {ops: []graph.Op{inOne}}},
			want:  recut,
		},
		{
			name:  "the same content cut into fewer chunks in one batch loses the chunks past its last",
			steps: []step{{ops: append(slices.Clone(inThree), inOne)}},
			want:  recut,
		},
		{
			name:  "a batch ending one cut and starting a shorter one loses the chunks past its last",
			steps: []step{{ops: inThree[:1]}, {ops: append(slices.Clone(inThree[1:]), inOne)}},
			want:  recut,
		},
		{
			// A copy of the document keeps the chunks it has until it is
			// cut again too.
			name:  "chunks past the last of a new cut stay while another document has them",
			steps: []step{{ops: append(inTwo(docA1), inTwo(copyA1)...)}, {ops: []graph.Op{inOneOfTwo(docA1)}}},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(copyA1), chunkNode(docA1, 0, "Alice manages Apollo."),
					chunkNode(docA1, 1, "Carol helps."), person("alice"), person("carol"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(copyA1, 0), hasChunk(copyA1, 1),
					mentions(docA1, 0, "Person", "alice"), mentions(docA1, 0, "Project", "apollo"),
					mentions(docA1, 1, "Person", "carol"), exported(manages)},
			},
		},
		{
			name: "chunks past the last of a new cut go once no document has them",
			steps: []step{{ops: append(inTwo(docA1), inTwo(copyA1)...)}, {ops: []graph.Op{inOneOfTwo(docA1)}},
				{ops: []graph.Op{inOneOfTwo(copyA1)}}},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(copyA1), chunkNode(docA1, 0, "Alice manages Apollo."),
					person("alice"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(copyA1, 0),
					mentions(docA1, 0, "Person", "alice"), mentions(docA1, 0, "Project", "apollo"), exported(manages)},
			},
		},
		{
			name: "stale version arriving later is ignored",
			steps: []step{
				{ops: []graph.Op{chunkOp(docA2, 0, "Alice alone.", person("alice"))}},
				{ops: []graph.Op{chunkRelOp(docA1, 1, "Bob manages Apollo.",
					[]graph.Relationship{textRel("MANAGES", bob, apollo)}, person("bob"))}},
				{ops: []graph.Op{deleteOp(docA1.Path, docA1.Version)}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA2), chunkNode(docA2, 0, "Alice alone."), person("alice")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), mentions(docA2, 0, "Person", "alice")},
			},
		},
		{
			// A chunk extracted before a spreadsheet named its people, then
			// re-extracted once it had: the first extraction, redelivered
			// after the second was written, must not take the names away.
			name: "extraction with older gazetteer names arriving later is ignored",
			steps: []step{
				{ops: []graph.Op{atRevision(0, chunkOp(docA1, 0, "Alice manages Apollo.", node("Project", "apollo", nil)))}},
				{ops: []graph.Op{atRevision(7, chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages},
					person("alice"), node("Project", "apollo", nil)))}},
				{ops: []graph.Op{atRevision(0, chunkOp(docA1, 0, "Alice manages Apollo.", node("Project", "apollo", nil)))}},
				{ops: []graph.Op{
					atRevision(7, chunkOp(docB1, 0, "Bob.", person("bob"))),
					atRevision(3, chunkOp(docB1, 0, "Bob.")),
				}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(docB1), chunkNode(docA1, 0, "Alice manages Apollo."), chunkNode(docB1, 0, "Bob."),
					person("alice"), person("bob"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(docB1, 0), mentions(docA1, 0, "Person", "alice"),
					mentions(docA1, 0, "Project", "apollo"), mentions(docB1, 0, "Person", "bob"), exported(manages)},
			},
		},
		{
			name: "extraction at a later or equal gazetteer revision replaces, a new version whatever its revision",
			steps: []step{
				{ops: []graph.Op{atRevision(4, chunkOp(docA1, 0, "Alice and Bob.", person("alice"), person("bob")))}},
				{ops: []graph.Op{atRevision(4, chunkOp(docA1, 0, "Alice and Bob.", person("alice")))}},
				{ops: []graph.Op{
					atRevision(9, chunkOp(docB1, 0, "Carol.", person("carol"))),
					atRevision(9, chunkOp(docB1, 0, "Carol.")),
				}},
				{ops: []graph.Op{atRevision(2, chunkOp(docA2, 0, "Dave.", person("dave")))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA2), docNode(docB1), chunkNode(docA2, 0, "Dave."), chunkNode(docB1, 0, "Carol."),
					person("dave")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), hasChunk(docB1, 0), mentions(docA2, 0, "Person", "dave")},
			},
		},
		{
			name: "rewriting a chunk replaces its mentions and relationships",
			steps: []step{
				{ops: []graph.Op{chunkRelOp(docA1, 0, "Alice manages Apollo. Bob too.",
					[]graph.Relationship{manages, textRel("WORKS_ON", bob, apollo)}, person("alice"), person("bob"))}},
				{ops: []graph.Op{chunkRelOp(docA1, 0, "Alice manages Apollo.",
					[]graph.Relationship{manages}, person("alice"))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Alice manages Apollo."),
					person("alice"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice"),
					exported(manages)},
			},
		},
		{
			name: "delete document removes it, its chunks and what only it supported",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}, person("alice")),
					chunkOp(docA1, 1, "Bob.", person("bob")),
					chunkOp(docB1, 0, "Bob again.", person("bob")),
				}},
				{ops: []graph.Op{deleteOp(docA1.Path, docA1.Version+1)}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docB1), chunkNode(docB1, 0, "Bob again."), person("bob")},
				Relationships: []graph.Relationship{hasChunk(docB1, 0), mentions(docB1, 0, "Person", "bob")},
			},
		},
		{
			name: "deleted path ignores older ops and accepts newer ones",
			steps: []step{
				{ops: []graph.Op{chunkOp(docA1, 0, "Alice.", person("alice"))}},
				{ops: []graph.Op{deleteOp(docA1.Path, 4)}},
				{ops: []graph.Op{chunkOp(docA1, 1, "Bob.", person("bob"))}},
				{ops: []graph.Op{chunkOp(docA2, 0, "Carol.", person("carol"))}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA2), chunkNode(docA2, 0, "Carol."), person("carol")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), mentions(docA2, 0, "Person", "carol")},
			},
		},
		{
			name: "relationship to an entity created later",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, false, []graph.Node{aliceProps},
					structRel("MEMBER_OF", alice, ref("Team", "platform"), map[string]any{"since": "2021-04-01"}))}},
				{ops: []graph.Op{recordsOp(people1, 1, true, []graph.Node{
					node("Team", "platform", map[string]any{"name": "Platform"})})}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(people1), aliceProps,
					node("Team", "platform", map[string]any{"name": "Platform"})},
				Relationships: []graph.Relationship{exported(structRel("MEMBER_OF", alice, ref("Team", "platform"),
					map[string]any{"since": "2021-04-01"}))},
			},
		},
		{
			name: "key-only endpoint disappears with its last relationship",
			steps: []step{
				{ops: []graph.Op{chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages})}},
				{ops: []graph.Op{chunkOp(docA1, 0, "Nothing.")}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Nothing.")},
				Relationships: []graph.Relationship{hasChunk(docA1, 0)},
			},
		},
		{
			name: "relationship stated in two documents survives deletion of one",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}),
					chunkRelOp(docB1, 0, "Apollo is managed by Alice.", []graph.Relationship{manages}),
				}},
				{ops: []graph.Op{deleteOp(docA1.Path, docA1.Version)}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docB1), chunkNode(docB1, 0, "Apollo is managed by Alice."),
					person("alice"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docB1, 0), exported(manages)},
			},
		},
		{
			name: "relationship stated in two documents disappears with the second",
			steps: []step{
				{ops: []graph.Op{
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}),
					chunkRelOp(docB1, 0, "Apollo is managed by Alice.", []graph.Relationship{manages}),
				}},
				{ops: []graph.Op{deleteOp(docA1.Path, docA1.Version)}},
				{ops: []graph.Op{deleteOp(docB1.Path, docB1.Version)}},
			},
			want: Export{},
		},
		{
			name: "structured and text support on the same entity",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
					chunkOp(docA1, 0, "Alice wrote this.", person("alice")),
				}},
				{ops: []graph.Op{deleteOp(docA1.Path, docA1.Version)}},
			},
			want: Export{Nodes: []graph.Node{docNode(people1), aliceProps}},
		},
		{
			name: "text support keeps an entity whose records are withdrawn",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
					chunkOp(docA1, 0, "Alice wrote this.", person("alice")),
				}},
				{ops: []graph.Op{recordsOp(people2, 0, true, nil)}},
			},
			want: Export{
				// The properties went with the records that gave them: the
				// graph is the one the files left give, whatever came before.
				Nodes: []graph.Node{docNode(docA1), docNode(people2), chunkNode(docA1, 0, "Alice wrote this."),
					person("alice")},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice")},
			},
		},
		{
			name: "a deleted file's properties go, another file's stay",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
					recordsOp(managers1, 0, true, []graph.Node{
						node("Person", "alice", map[string]any{"name": "Alice", "role": "lead"})}),
				}},
				{ops: []graph.Op{deleteOp(people1.Path, people1.Version+10)}},
			},
			want: Export{Nodes: []graph.Node{docNode(managers1),
				node("Person", "alice", map[string]any{"name": "Alice", "role": "lead"})}},
		},
		{
			name: "a new version's properties replace the old version's",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{
					node("Person", "alice", map[string]any{"a": 1, "b": "x"}), person("bob")})}},
				{ops: []graph.Op{recordsOp(people2, 0, false, []graph.Node{
					node("Person", "alice", map[string]any{"a": 2})})}},
				{ops: []graph.Op{recordsOp(people2, 1, true, []graph.Node{
					node("Person", "bob", map[string]any{"c": true})})}},
			},
			want: Export{Nodes: []graph.Node{docNode(people2),
				node("Person", "alice", map[string]any{"a": int64(2)}), node("Person", "bob", map[string]any{"c": true})}},
		},
		// A mention's properties (the name the gazetteer had when its chunk
		// was extracted) go with the mention, as records' go with their
		// file; a spreadsheet wins over a chunk's name.
		{
			name: "a mention's properties go with the mention",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{node("Person", "alice", named("Alice"))}),
					atRevision(1, chunkOp(docA1, 0, "Alice wrote this.", node("Person", "alice", named("Alice")))),
				}},
				// The spreadsheet's deletion, then an extraction made before it.
				{ops: []graph.Op{deleteOp(people1.Path, people1.Version+10),
					atRevision(1, chunkOp(docB1, 0, "Alice read it.", node("Person", "alice", named("Alice"))))}},
				// The gazetteer lost the name: both chunks extracted again.
				{ops: []graph.Op{atRevision(5, chunkOp(docA1, 0, "Alice wrote this.", person("alice"))),
					atRevision(5, chunkOp(docB1, 0, "Alice read it.", person("alice")))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(docB1), chunkNode(docA1, 0, "Alice wrote this."),
					chunkNode(docB1, 0, "Alice read it."), person("alice")},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), hasChunk(docB1, 0),
					mentions(docA1, 0, "Person", "alice"), mentions(docB1, 0, "Person", "alice")},
			},
		},
		{
			name: "a chunk's name stays while the chunk gives it",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{node("Person", "alice", named("Alice"))}),
					chunkOp(docA1, 0, "Alice wrote this.", node("Person", "alice", named("Alice"))),
				}},
				{ops: []graph.Op{deleteOp(people1.Path, people1.Version+10)}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA1), chunkNode(docA1, 0, "Alice wrote this."), node("Person", "alice", named("Alice"))},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice")},
			},
		},
		{
			name: "a spreadsheet's new name wins over a chunk's old one",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{node("Person", "alice", named("Old"))}),
					chunkOp(docA1, 0, "Old wrote this.", node("Person", "alice", named("Old"))),
				}},
				{ops: []graph.Op{recordsOp(people2, 0, true, []graph.Node{node("Person", "alice", named("New"))})}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(people2), chunkNode(docA1, 0, "Old wrote this."),
					node("Person", "alice", named("New"))},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), mentions(docA1, 0, "Person", "alice")},
			},
		},
		{
			name: "final records batch withdraws other versions",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("alice"), person("bob")},
					structRel("WORKS_ON", bob, apollo, nil))}},
				{ops: []graph.Op{recordsOp(people2, 0, false, []graph.Node{person("alice")})}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(people2), person("alice"), person("bob"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{exported(structRel("WORKS_ON", bob, apollo, nil))},
			},
		},
		{
			// The start nodes of relationships are supported by the file
			// whether or not its rows state them as nodes: the next version
			// withdraws those relationships and their key-only endpoints.
			name: "final records batch withdraws relationships of nodes the old version did not state",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, false, []graph.Node{person("alice")},
						structRel("WORKS_ON", alice, apollo, nil), structRel("WORKS_ON", bob, apollo, nil)),
					recordsOp(people1, 1, true, nil,
						structRel("MEMBER_OF", bob, ref("Team", "core"), nil), structRel("MANAGES", bob, apollo, nil)),
				}},
				{ops: []graph.Op{recordsOp(people1, 2, true, nil, structRel("MANAGES", bob, ref("Project", "zeus"), nil))}},
				{ops: []graph.Op{recordsOp(people2, 0, true, []graph.Node{person("carol")})}},
			},
			want: Export{Nodes: []graph.Node{docNode(people2), person("carol")}},
		},
		{
			name: "final records batch completes the new version",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("alice"), person("bob")},
					structRel("WORKS_ON", bob, apollo, nil))}},
				{ops: []graph.Op{recordsOp(people2, 0, false, []graph.Node{person("alice")})}},
				{ops: []graph.Op{recordsOp(people2, 1, true, []graph.Node{person("carol")})}},
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("dave")})}},
			},
			want: Export{Nodes: []graph.Node{docNode(people2), person("alice"), person("carol")}},
		},
		{
			name: "node properties merge and nil removes",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, false, []graph.Node{
					node("Person", "alice", map[string]any{"a": 1, "b": "x", "gone": true})})}},
				{ops: []graph.Op{recordsOp(people1, 1, true, []graph.Node{
					node("Person", "alice", map[string]any{"b": "y", "c": false, "gone": nil})})}},
			},
			want: Export{Nodes: []graph.Node{docNode(people1),
				node("Person", "alice", map[string]any{"a": int64(1), "b": "y", "c": false})}},
		},
		{
			name: "one key twice in a batch of records merges its properties in order",
			steps: []step{{ops: []graph.Op{
				recordsOp(people1, 0, false, []graph.Node{
					node("Person", "alice", map[string]any{"a": 1, "b": "x", "gone": true}),
					node("Person", "alice", map[string]any{"b": "y"})}),
				recordsOp(people1, 1, true, []graph.Node{
					node("Person", "alice", map[string]any{"c": false, "gone": nil}),
					person("bob")}),
			}}},
			want: Export{Nodes: []graph.Node{docNode(people1), person("bob"),
				node("Person", "alice", map[string]any{"a": int64(1), "b": "y", "c": false})}},
		},
		{
			name: "relationship properties merge",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, false, []graph.Node{person("alice")},
					structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "lead", "since": "2020"}))}},
				{ops: []graph.Op{recordsOp(people1, 1, true, nil,
					structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "member"}))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(people1), person("alice"), node("Team", "core", nil)},
				Relationships: []graph.Relationship{exported(structRel("MEMBER_OF", alice, ref("Team", "core"),
					map[string]any{"role": "member", "since": "2020"}))},
			},
		},
		{
			name: "a new version's relationship properties replace the old version's",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("alice")},
					structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "lead", "since": "2020"}))}},
				{ops: []graph.Op{recordsOp(people2, 0, true, []graph.Node{person("alice")},
					structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "member"}))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(people2), person("alice"), node("Team", "core", nil)},
				Relationships: []graph.Relationship{exported(structRel("MEMBER_OF", alice, ref("Team", "core"),
					map[string]any{"role": "member"}))},
			},
		},
		{
			name: "a deleted file's relationship properties go, another file's stay",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{person("alice")},
						structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "lead", "since": "2020"})),
					recordsOp(managers1, 0, true, []graph.Node{person("alice")},
						structRel("MEMBER_OF", alice, ref("Team", "core"), map[string]any{"role": "member"})),
				}},
				{ops: []graph.Op{deleteOp(managers1.Path, managers1.Version+10)}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(people1), person("alice"), node("Team", "core", nil)},
				Relationships: []graph.Relationship{exported(structRel("MEMBER_OF", alice, ref("Team", "core"),
					map[string]any{"role": "lead", "since": "2020"}))},
			},
		},
		manyRowsNewVersion(),
		{
			name: "relationship identity includes its source",
			steps: []step{{ops: []graph.Op{
				recordsOp(people1, 0, true, nil, structRel("MANAGES", alice, apollo, nil)),
				chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{{Type: "MANAGES", From: alice, To: apollo, Evidence: "Alice manages Apollo."}}),
			}}},
			want: Export{
				Nodes: []graph.Node{docNode(docA1), docNode(people1), chunkNode(docA1, 0, "Alice manages Apollo."),
					person("alice"), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0),
					exported(structRel("MANAGES", alice, apollo, nil)), exported(manages)},
			},
		},
		{
			name: "property types",
			steps: []step{{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{node("Person", "alice", map[string]any{
				"string":   "text",
				"int":      42,
				"int64":    int64(-7),
				"float":    2.5,
				"integral": float64(3),
				"bool":     true,
				"date":     time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
				"datetime": time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC),
				"list":     []string{"a", "b"},
				"anylist":  []any{1.5, 2.0},
				"empty":    []string{},
				"jsonint":  json.Number("12"),
				"jsonreal": json.Number("1.25"),
			})})}}},
			want: Export{Nodes: []graph.Node{docNode(people1), node("Person", "alice", map[string]any{
				"string":   "text",
				"int":      int64(42),
				"int64":    int64(-7),
				"float":    2.5,
				"integral": float64(3),
				"bool":     true,
				"date":     "2024-03-01",
				"datetime": "2024-03-01T09:30:00Z",
				"list":     []any{"a", "b"},
				"anylist":  []any{1.5, 2.0},
				"empty":    []any{},
				"jsonint":  int64(12),
				"jsonreal": 1.25,
			})}},
		},
		{
			name: "unicode keys",
			steps: []step{{ops: []graph.Op{chunkRelOp(unicode, 0, "Julia Łukasiewicz prüft das Protokoll.",
				[]graph.Relationship{textRel("WORKS_ON", ref("Person", "julia łukasiewicz"), ref("Project", "überprüfung"))},
				person("julia łukasiewicz"))}}},
			want: Export{
				Nodes: []graph.Node{docNode(unicode), chunkNode(unicode, 0, "Julia Łukasiewicz prüft das Protokoll."),
					person("julia łukasiewicz"), node("Project", "überprüfung", nil)},
				Relationships: []graph.Relationship{hasChunk(unicode, 0), mentions(unicode, 0, "Person", "julia łukasiewicz"),
					exported(textRel("WORKS_ON", ref("Person", "julia łukasiewicz"), ref("Project", "überprüfung")))},
			},
		},
		{
			name: "hostile strings are stored verbatim",
			steps: []step{{ops: []graph.Op{recordsOp(
				event.NewDocument("data/'; DROP TABLE nodes; --.csv", sha("hostile"), 1, 1), 0, true,
				[]graph.Node{node("Person", hostile, map[string]any{
					"name":  `Robert'); DROP TABLE students;-- "\ \\ \n`,
					"quote": "it's \"quoted\" `ticked` {braced} $param \u2028 ✓",
					"multi": "line1\nline2\r\n\ttab",
				})},
				structRel("MEMBER_OF", ref("Person", hostile), ref("Team", `}]->(x) MATCH (n) DETACH DELETE n //`),
					map[string]any{"note": "' OR 1=1 --"}))}}},
			want: Export{
				Nodes: []graph.Node{
					docNode(event.NewDocument("data/'; DROP TABLE nodes; --.csv", sha("hostile"), 1, 1)),
					node("Person", hostile, map[string]any{
						"name":  `Robert'); DROP TABLE students;-- "\ \\ \n`,
						"quote": "it's \"quoted\" `ticked` {braced} $param \u2028 ✓",
						"multi": "line1\nline2\r\n\ttab",
					}),
					node("Team", `}]->(x) MATCH (n) DETACH DELETE n //`, nil),
				},
				Relationships: []graph.Relationship{exported(structRel("MEMBER_OF", ref("Person", hostile),
					ref("Team", `}]->(x) MATCH (n) DETACH DELETE n //`), map[string]any{"note": "' OR 1=1 --"}))},
			},
		},
		{
			name: "identical documents share chunks",
			steps: []step{
				{ops: []graph.Op{
					chunkOp(twinA, 0, "Alice.", person("alice")),
					chunkOp(twinB, 0, "Alice.", person("alice")),
				}},
				{ops: []graph.Op{deleteOp(twinA.Path, twinA.Version)}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(twinB), chunkNode(twinB, 0, "Alice."), person("alice")},
				Relationships: []graph.Relationship{hasChunk(twinB, 0),
					mentions(twinB, 0, "Person", "alice")},
			},
		},
		{
			name: "identical documents both deleted",
			steps: []step{
				{ops: []graph.Op{
					chunkOp(twinA, 0, "Alice.", person("alice")),
					chunkOp(twinB, 0, "Alice.", person("alice")),
				}},
				{ops: []graph.Op{deleteOp(twinB.Path, twinB.Version)}},
				{ops: []graph.Op{deleteOp(twinA.Path, twinA.Version)}},
			},
			want: Export{},
		},
		{
			name: "documents deleted together",
			steps: []step{
				{ops: []graph.Op{
					recordsOp(people1, 0, true, []graph.Node{aliceProps}),
					chunkOp(twinA, 0, "Alice.", person("alice")),
					chunkOp(twinB, 0, "Alice.", person("alice")),
					chunkRelOp(docA1, 0, "Alice manages Apollo.", []graph.Relationship{manages}),
					chunkRelOp(docB1, 0, "Apollo is managed by Alice. Bob too.", []graph.Relationship{manages}, person("bob")),
				}},
				// One batch: both twins (a shared chunk), a document
				// deleted twice, a stale deletion and one of a path never
				// seen.
				{ops: []graph.Op{
					deleteOp(twinA.Path, twinA.Version),
					deleteOp(docB1.Path, docB1.Version),
					deleteOp(twinB.Path, twinB.Version),
					deleteOp(docB1.Path, docB1.Version+1),
					deleteOp(docA1.Path, docA1.Version-1),
					deleteOp("never/seen.md", 3),
				}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(people1), aliceProps, docNode(docA1), chunkNode(docA1, 0, "Alice manages Apollo."),
					node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{hasChunk(docA1, 0), exported(manages)},
			},
		},
		folderDeleted(),
		{
			// Deletions in one batch apply in op order: a path deleted,
			// written again and deleted again; one deleted, then written
			// again; stale writes after its deletion.
			name: "deleted paths written again in the same batch",
			steps: []step{
				{ops: []graph.Op{
					chunkOp(docA1, 0, "Alice.", person("alice")),
					chunkOp(docB1, 0, "Bob.", person("bob")),
					chunkOp(twinA, 0, "Twin.", person("dave")),
				}},
				{ops: []graph.Op{
					deleteOp(docA1.Path, 4),
					deleteOp(docB1.Path, 4),
					deleteOp(twinA.Path, 5),
					chunkOp(docA2, 0, "Carol.", person("carol")),
					chunkOp(twinAgain, 0, "Twin again.", person("erin")),
					deleteOp(docB1.Path, 3),
					chunkOp(docB1, 0, "Bob again.", person("bob")),
					deleteOp(twinA.Path, twinAgain.Version+1),
					deleteOp(docA1.Path, 4),
				}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docA2), chunkNode(docA2, 0, "Carol."), person("carol")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), mentions(docA2, 0, "Person", "carol")},
			},
		},
		{
			// A deletion is stale below the stored version, deletes at it,
			// and keeps its own version: writes older than it that arrive
			// later are ignored, newer ones accepted.
			name: "deletions in a batch compare versions and keep theirs",
			steps: []step{
				{ops: []graph.Op{
					chunkOp(docA2, 0, "Alice.", person("alice")),
					chunkOp(docB1, 0, "Bob.", person("bob")),
					chunkOp(twinA, 0, "Twin.", person("dave")),
				}},
				{ops: []graph.Op{
					deleteOp(docA2.Path, docA2.Version-1),
					deleteOp(docB1.Path, 9),
					deleteOp(twinA.Path, twinA.Version),
					deleteOp(docB1.Path, 8),
				}},
				{ops: []graph.Op{
					chunkOp(docB8, 0, "Bob late.", person("bob")),
					chunkOp(event.NewDocument(twinA.Path, sha("twin v3"), 10, 3), 0, "Twin.", person("dave")),
				}},
				{ops: []graph.Op{chunkOp(docB10, 0, "Bob back.", person("bob"))}},
			},
			want: Export{
				Nodes: []graph.Node{docNode(docA2), docNode(docB10), chunkNode(docA2, 0, "Alice."), chunkNode(docB10, 0, "Bob back."),
					person("alice"), person("bob")},
				Relationships: []graph.Relationship{hasChunk(docA2, 0), hasChunk(docB10, 0),
					mentions(docA2, 0, "Person", "alice"), mentions(docB10, 0, "Person", "bob")},
			},
		},
		{
			// The parser withdraws a version it cannot finish (a
			// spreadsheet rejected whole after some batches went out)
			// under that version's own number: what of that version
			// arrives after the withdrawal, over another stream or in
			// the same batch, stays out.
			name: "a write at the version of its path's deletion is stale",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, false, []graph.Node{person("alice")})}},
				{ops: []graph.Op{deleteOp(people1.Path, people1.Version)}},
				{ops: []graph.Op{recordsOp(people1, 1, true, []graph.Node{person("bob")})}},
				{ops: []graph.Op{
					chunkOp(docA1, 0, "Alice.", person("alice")),
					deleteOp(docA1.Path, docA1.Version),
					chunkOp(docA1, 1, "Carol.", person("carol")),
				}},
				{ops: []graph.Op{deleteOp(docB1.Path, docB1.Version), deleteOp(twinA.Path, twinA.Version)}},
				{ops: []graph.Op{
					chunkOp(docB1, 0, "Bob.", person("bob")),
					recordsOp(twinA, 0, true, []graph.Node{person("dave")}),
				}},
			},
			want: Export{},
		},
		{
			// Neo4j indexes a string of at most about 8 KB: a key of the
			// longest length allowed, in two-byte characters, is stored.
			name: "a key of MaxKeyBytes bytes is stored",
			steps: []step{
				{ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person(strings.Repeat("é", event.MaxKeyBytes/2))},
					structRel("MANAGES", ref("Person", strings.Repeat("é", event.MaxKeyBytes/2)), apollo, nil))}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(people1), person(strings.Repeat("é", event.MaxKeyBytes/2)), node("Project", "apollo", nil)},
				Relationships: []graph.Relationship{exported(structRel("MANAGES", ref("Person", strings.Repeat("é", event.MaxKeyBytes/2)), apollo, nil))},
			},
		},
		{
			name: "invalid ops are refused and nothing is written",
			steps: []step{
				{ops: []graph.Op{chunkOp(docB1, 0, "Bob.", person("bob"))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{
					chunkOp(docA1, 0, "Alice.", person("alice")),
					chunkOp(docA1, 1, "A robot.", node("Robot", "r2", nil)),
				}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("alice")},
					structRel("LIKES", alice, bob, nil))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{person("")})}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{
					node(graph.LabelDocument, "x", nil)})}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, nil,
					structRel(graph.RelMentions, alice, bob, nil))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, nil,
					structRel("MANAGES", alice, ref("Robot", "r2"), nil))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{
					node("Person", "alice", map[string]any{"key": "other"})})}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, nil,
					structRel("MANAGES", alice, apollo, map[string]any{"source": "x"}))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{
					node("Person", "alice", map[string]any{"nested": map[string]any{"a": 1}})})}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, []graph.Node{
					person(strings.Repeat("a", event.MaxKeyBytes+1))})}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{chunkOp(docA1, 0, "Alice.",
					node("Project", strings.Repeat("p", event.MaxKeyBytes+1), nil))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{recordsOp(people1, 0, true, nil,
					structRel("MANAGES", alice, ref("Project", strings.Repeat("p", event.MaxKeyBytes+1)), nil))}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{chunkOp(event.NewDocument("", sha("x"), 1, 1), 0, "x")}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{chunkOp(event.NewDocument("x.md", "", 1, 1), 0, "x")}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{deleteOp("", 1)}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{{}}},
				{wantErr: graph.ErrInvalid, ops: []graph.Op{{
					DeleteDocument: &event.DocumentDeleted{Path: "x", Version: 1},
					PutRecords:     &event.Records{Source: people1},
				}}},
			},
			want: Export{
				Nodes:         []graph.Node{docNode(docB1), chunkNode(docB1, 0, "Bob."), person("bob")},
				Relationships: []graph.Relationship{hasChunk(docB1, 0), mentions(docB1, 0, "Person", "bob")},
			},
		},
	}
}

// folderDeleted deletes most documents of a folder in one batch: the
// entities, relationships and chunks they share with the documents that
// stay (text and structured) stay, the rest goes.
func folderDeleted() testCase {
	alice, apollo, core := ref("Person", "alice"), ref("Project", "apollo"), ref("Team", "core")
	manages := textRel("MANAGES", alice, apollo)
	aliceProps := node("Person", "alice", map[string]any{"name": "Alice", "email": "alice@example.com"})
	memberOf := structRel("MEMBER_OF", alice, core, map[string]any{"role": "lead"})
	const docs, kept = 12, 2
	var setup, dels []graph.Op
	want := Export{
		Nodes:         []graph.Node{docNode(people1), aliceProps, node("Project", "apollo", nil), node("Team", "core", nil)},
		Relationships: []graph.Relationship{exported(manages), exported(memberOf)},
	}
	setup = append(setup, recordsOp(people1, 0, true, []graph.Node{aliceProps}, memberOf))
	for i := range docs {
		d := event.NewDocument(fmt.Sprintf("folder/doc%02d.md", i), sha(fmt.Sprint("folder ", i)), 10, uint64(10+i))
		own := fmt.Sprintf("p%02d", i)
		text := fmt.Sprintf("Alice manages Apollo with %s.", own)
		works := textRel("WORKS_ON", ref("Person", own), ref("Project", fmt.Sprintf("x%02d", i)))
		setup = append(setup, chunkRelOp(d, 0, text, []graph.Relationship{manages, works}, person("alice"), person(own)),
			chunkOp(d, 1, "Shared words.", person("bob")))
		if i < docs-kept {
			dels = append(dels, deleteOp(d.Path, d.Version))
			continue
		}
		want.Nodes = append(want.Nodes, docNode(d), chunkNode(d, 0, text), chunkNode(d, 1, "Shared words."), person(own),
			node("Project", fmt.Sprintf("x%02d", i), nil))
		want.Relationships = append(want.Relationships, hasChunk(d, 0), hasChunk(d, 1), exported(works),
			mentions(d, 0, "Person", "alice"), mentions(d, 0, "Person", own), mentions(d, 1, "Person", "bob"))
	}
	want.Nodes = append(want.Nodes, person("bob"))
	return testCase{
		name:  "documents of a folder deleted in one batch keep what the others support",
		steps: []step{{ops: setup}, {ops: dels}},
		want:  want,
	}
}

// manyRowsNewVersion: a new version of a file of more rows than a store's
// statements take at once drops a property of every node and relationship.
func manyRowsNewVersion() testCase {
	const rows = 600
	var v1, v2, want []graph.Node
	var r1, r2, wantRels []graph.Relationship
	team := ref("Team", "core")
	for i := range rows {
		key := fmt.Sprintf("p%04d", i)
		v1 = append(v1, node("Person", key, map[string]any{"n": i, "gone": "x"}))
		v2 = append(v2, node("Person", key, map[string]any{"n": i}))
		want = append(want, node("Person", key, map[string]any{"n": int64(i)}))
		r1 = append(r1, structRel("MEMBER_OF", ref("Person", key), team, map[string]any{"role": "lead", "n": i}))
		r2 = append(r2, structRel("MEMBER_OF", ref("Person", key), team, map[string]any{"n": i}))
		wantRels = append(wantRels, exported(structRel("MEMBER_OF", ref("Person", key), team, map[string]any{"n": int64(i)})))
	}
	return testCase{
		name: "a new version of many rows drops a property of each",
		steps: []step{
			{ops: []graph.Op{recordsOp(people1, 0, true, v1, r1...)}},
			{ops: []graph.Op{recordsOp(people2, 0, true, v2, r2...)}},
		},
		want: Export{Nodes: append(append([]graph.Node{docNode(people2)}, want...), node("Team", "core", nil)), Relationships: wantRels},
	}
}

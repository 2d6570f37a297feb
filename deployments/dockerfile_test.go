package deployments_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, COPY, ENV, ...
	args string
}

func parseDockerfile(file string) ([]instruction, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: instruction continues past the end of the file", file, start)
	}
	return out, sc.Err()
}

// execForm decodes a JSON array argument (CMD ["a", "b"]).
func execForm(args string) ([]string, bool) {
	var l []string
	if !strings.HasPrefix(strings.TrimSpace(args), "[") || json.Unmarshal([]byte(args), &l) != nil {
		return nil, false
	}
	return l, true
}

// dockerEnv collects the ENV instructions of the last stage.
func dockerEnv(ins []instruction) (map[string]string, error) {
	env := map[string]string{}
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			env = map[string]string{}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("line %d: ENV %s: want KEY=VALUE", in.line, in.args)
				}
				env[k] = strings.Trim(v, `"`)
			}
		}
	}
	return env, nil
}

// copySources returns the build-context sources of the COPY and ADD
// instructions (not those copying from another stage).
func copySources(ins []instruction) (map[string]int, error) {
	out := map[string]int{}
	for _, in := range ins {
		if in.cmd != "COPY" && in.cmd != "ADD" {
			continue
		}
		fields := strings.Fields(in.args)
		fromStage := false
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fromStage = fromStage || strings.HasPrefix(fields[0], "--from=")
			fields = fields[1:]
		}
		if l, ok := execForm(strings.Join(fields, " ")); ok {
			fields = l
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: %s %s: want SOURCE... DEST", in.line, in.cmd, in.args)
		}
		if fromStage {
			continue
		}
		for _, src := range fields[:len(fields)-1] {
			out[src] = in.line
		}
	}
	return out, nil
}

// dockerignore is a parsed .dockerignore: patterns in order, later ones
// win, "!" re-includes.
type dockerignore []struct {
	pattern string
	negate  bool
}

func loadDockerignore(file string) (dockerignore, error) {
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		p := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		out = append(out, struct {
			pattern string
			negate  bool
		}{p, neg})
	}
	return out, nil
}

// excluded reports whether rel (slash-separated, relative to the context)
// is left out of the build context.
func (d dockerignore) excluded(rel string) bool {
	rel = path.Clean(rel)
	ex := false
	for _, p := range d {
		if matchIgnore(p.pattern, rel) {
			ex = !p.negate
		}
	}
	return ex
}

// matchIgnore matches rel or any of its parents against a pattern, with
// "**" matching any number of directories.
func matchIgnore(pattern, rel string) bool {
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if globMatch(strings.Split(pattern, "/"), strings.Split(p, "/")) {
			return true
		}
	}
	return false
}

func globMatch(pat, parts []string) bool {
	if len(pat) == 0 {
		return len(parts) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(parts); i++ {
			if globMatch(pat[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], parts[0])
	return err == nil && ok && globMatch(pat[1:], parts[1:])
}

// contextFiles lists the regular files under src (a file or directory in
// the build context) as slash-separated context-relative paths.
func contextFiles(contextDir, src string) ([]string, error) {
	root := filepath.Join(contextDir, filepath.FromSlash(src))
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(contextDir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

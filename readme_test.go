package nacos_test

// The READMEs are checked here: README.md (English) and README.zh-CN.md (Chinese) are
// one front page in two languages, so their code blocks must be the same, in the same
// order, and every option and environment variable README.md names must be named in
// README.zh-CN.md too. README.md stays a front page (at most readmeMaxLines lines, with a
// table of contents), and every relative link of the READMEs and of docs/*.md leads to a
// file that exists (and, for a link to a heading, to a heading that exists).

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

const (
	readmeEN       = "README.md"
	readmeZH       = "README.zh-CN.md"
	readmeMaxLines = 250
)

// codeBlock is a fenced code block of a Markdown file.
type codeBlock struct {
	line int    // of its opening fence, from 1
	info string // what follows the opening fence: the language, if any
	body string // its lines between the fences, each ending in "\n"
}

// mdFile is a Markdown file, read.
type mdFile struct {
	path   string
	text   string
	blocks []codeBlock
	prose  []string // its lines, with fenced code blocks blanked
}

func readMarkdown(t *testing.T, path string) mdFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	f := mdFile{path: path, text: string(data)}
	lines := strings.SplitAfter(f.text, "\n")
	var open *codeBlock
	var fence string
	for i, l := range lines {
		trimmed := strings.TrimRight(l, "\r\n")
		switch {
		case open == nil && (strings.HasPrefix(strings.TrimLeft(trimmed, " "), "```") || strings.HasPrefix(strings.TrimLeft(trimmed, " "), "~~~")):
			s := strings.TrimLeft(trimmed, " ")
			fence = s[:3]
			open = &codeBlock{line: i + 1, info: strings.TrimSpace(s[3:])}
			f.prose = append(f.prose, "")
		case open != nil && strings.TrimSpace(trimmed) == fence:
			f.blocks = append(f.blocks, *open)
			open = nil
			f.prose = append(f.prose, "")
		case open != nil:
			open.body += l
			f.prose = append(f.prose, "")
		default:
			f.prose = append(f.prose, trimmed)
		}
	}
	if open != nil {
		t.Fatalf("%s:%d: a code block is opened and never closed", path, open.line)
	}
	return f
}

// firstDifference describes where two texts first differ, line by line.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return fmt.Sprintf("its line %d is %q in %s and %q in %s", i+1, x, readmeEN, y, readmeZH)
		}
	}
	return "they differ in their line endings"
}

// summary is the first line of a code block, shortened, to name it in a message.
func (b codeBlock) summary() string {
	first, _, _ := strings.Cut(b.body, "\n")
	if len(first) > 60 {
		first = first[:60] + "..."
	}
	return fmt.Sprintf("```%s block at line %d starting %q", b.info, b.line, first)
}

// The two READMEs have the same code blocks, byte for byte, in the same order: the
// Chinese page changes the prose around them, never the code (comments in code blocks
// are the same in both). The blocks are aligned on the longest run of equal ones, so
// that a block added, dropped or changed on one side is named as such.
func TestREADMECodeBlocksMatch(t *testing.T) {
	en, zh := readMarkdown(t, readmeEN), readMarkdown(t, readmeZH)
	a, b := en.blocks, zh.blocks
	same := func(x, y codeBlock) bool { return x.info == y.info && x.body == y.body }
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if same(a[i], b[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	// Walk both lists; between two matched blocks, the unmatched ones of each side are
	// paired in order (a changed block) and the rest are extra on one side.
	var onlyA, onlyB []int
	report := func() {
		n := min(len(onlyA), len(onlyB))
		for k := 0; k < n; k++ {
			x, y := a[onlyA[k]], b[onlyB[k]]
			what := firstDifference(x.body, y.body)
			if x.info != y.info {
				what = fmt.Sprintf("its language is %q in %s and %q in %s", x.info, readmeEN, y.info, readmeZH)
			}
			t.Errorf("code block %d of %s (line %d) and code block %d of %s (line %d) are out of step: %s\n  %s: %s\n  %s: %s",
				onlyA[k]+1, readmeEN, x.line, onlyB[k]+1, readmeZH, y.line, what, readmeEN, x.summary(), readmeZH, y.summary())
		}
		for _, i := range onlyA[n:] {
			t.Errorf("%s has a code block that %s lacks (or has elsewhere): code block %d, the %s", readmeEN, readmeZH, i+1, a[i].summary())
		}
		for _, j := range onlyB[n:] {
			t.Errorf("%s has a code block that %s lacks (or has elsewhere): code block %d, the %s", readmeZH, readmeEN, j+1, b[j].summary())
		}
		onlyA, onlyB = onlyA[:0], onlyB[:0]
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && same(a[i], b[j]):
			report()
			i, j = i+1, j+1
		case j >= len(b) || i < len(a) && lcs[i+1][j] >= lcs[i][j+1]:
			onlyA = append(onlyA, i)
			i++
		default:
			onlyB = append(onlyB, j)
			j++
		}
	}
	report()
}

// The names a README gives that the other must give too.
var (
	// Options: nacos.WithNamespace, nacosconfig.WithDataID, registry.Addrs, per-call
	// RegisterParam (and the SDK's vo.RegisterInstanceParam).
	optionName = regexp.MustCompile(`\bWith[A-Z][A-Za-z0-9]*|\bregistry\.[A-Z][A-Za-z0-9]*|\b[A-Z][A-Za-z0-9]*Param\b`)
	// Environment variables: MICRO_REGISTRY_NACOS_NAMESPACE, MICRO_CONFIG_NACOS_<NAME>.
	envName = regexp.MustCompile(`\bMICRO_[A-Z0-9_]*[A-Z0-9]`)
	// The <NAME>s of the environment's table, and other constants in code spans
	// (`NAMESPACE`, `DEFAULT_GROUP`).
	codeSpan     = regexp.MustCompile("`([^`\n]+)`")
	constantName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*[A-Z0-9]$`)
)

// names returns the option and environment names f gives, and the first line of each.
func names(f mdFile) map[string]int {
	found := map[string]int{}
	note := func(name string, line int) {
		if _, ok := found[name]; !ok {
			found[name] = line
		}
	}
	for i, l := range strings.Split(f.text, "\n") {
		for _, n := range optionName.FindAllString(l, -1) {
			note(n, i+1)
		}
		for _, n := range envName.FindAllString(l, -1) {
			note(n, i+1)
		}
		for _, m := range codeSpan.FindAllStringSubmatch(l, -1) {
			if constantName.MatchString(m[1]) {
				note(m[1], i+1)
			}
		}
	}
	return found
}

// Every option (With…, registry.…, …Param), environment variable (MICRO_…) and constant
// in code spans that README.md names, README.zh-CN.md names too.
func TestREADMENamesInChinese(t *testing.T) {
	en, zh := names(readMarkdown(t, readmeEN)), names(readMarkdown(t, readmeZH))
	if len(en) == 0 {
		t.Fatalf("%s names no option and no environment variable: the pattern is broken", readmeEN)
	}
	var missing []string
	for n, line := range en {
		if _, ok := zh[n]; !ok {
			missing = append(missing, fmt.Sprintf("%s (%s:%d)", n, readmeEN, line))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not name what %s names:\n  %s", readmeZH, readmeEN, strings.Join(missing, "\n  "))
	}
}

// headingLine is an ATX heading.
var headingLine = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// anchor is the id GitHub gives a heading: lower case, without punctuation but hyphens
// and underscores, spaces as hyphens; letters and digits of every script are kept.
func anchor(heading string) string {
	heading = strings.NewReplacer("`", "", "**", "", "*", "").Replace(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of f's headings (a repeated heading gets -1, -2, ...).
func anchors(f mdFile) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, l := range f.prose {
		m := headingLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// mdLink is an inline link or image: [text](target "title").
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// link is a link of a Markdown file.
type link struct {
	line   int
	target string
}

// links returns f's links outside code blocks and code spans.
func links(f mdFile) []link {
	var out []link
	for i, l := range f.prose {
		l = codeSpan.ReplaceAllString(l, "")
		for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
			out = append(out, link{i + 1, m[1]})
		}
	}
	return out
}

// README.md is a front page: at most readmeMaxLines lines, a link to the Chinese page at
// its top (and the Chinese page one back), and a table of contents whose entries lead
// to its headings.
func TestREADMEFrontPage(t *testing.T) {
	en, zh := readMarkdown(t, readmeEN), readMarkdown(t, readmeZH)
	if n := strings.Count(en.text, "\n"); n > readmeMaxLines {
		t.Errorf("%s has %d lines, over its %d: move what a user does not need first to docs/", readmeEN, n, readmeMaxLines)
	}
	for _, c := range []struct {
		f     mdFile
		other string
		toc   []string // headings a table of contents may have
	}{{en, readmeZH, []string{"Contents", "Table of contents"}}, {zh, readmeEN, []string{"目录"}}} {
		first := ""
		for _, l := range c.f.prose {
			if strings.TrimSpace(l) != "" {
				first = l
				break
			}
		}
		if !strings.Contains(first, "]("+c.other+")") {
			t.Errorf("%s does not link to %s on its first line: it starts %q", c.f.path, c.other, first)
		}
		headings := anchors(c.f)
		entries, inTOC := 0, false
		for _, l := range c.f.prose {
			if m := headingLine.FindStringSubmatch(l); m != nil {
				inTOC = false
				for _, h := range c.toc {
					inTOC = inTOC || strings.EqualFold(m[1], h)
				}
				continue
			}
			if !inTOC {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
				if a, ok := strings.CutPrefix(m[1], "#"); ok && headings[a] {
					entries++
				}
			}
		}
		if entries < 3 {
			t.Errorf("%s has no table of contents: a heading %q followed by links to its sections (%d found that lead to a heading of the page)", c.f.path, c.toc[0], entries)
		}
	}
}

// Every relative link of the READMEs and of docs/*.md leads to a file that exists, and a
// link to a heading (#...) of a Markdown file to a heading that exists.
func TestREADMEAndDocsLinksResolve(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{readmeEN, readmeZH}, docs...)
	cache := map[string]mdFile{}
	read := func(path string) mdFile {
		if f, ok := cache[path]; ok {
			return f
		}
		f := readMarkdown(t, path)
		cache[path] = f
		return f
	}
	for _, path := range files {
		f := read(path)
		for _, l := range links(f) {
			target := l.target
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s:%d: the link %q leads to %s, which does not exist", path, l.line, target, filepath.ToSlash(dest))
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			if !anchors(read(dest))[frag] {
				t.Errorf("%s:%d: the link %q leads to #%s, which is no heading of %s", path, l.line, target, frag, filepath.ToSlash(dest))
			}
		}
	}
}

package rewrite

import (
	"cmp"
	"maps"
	"math/bits"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// tables is what a rewrite needs from the Program for one set of
// selectors in use: which compounds to evaluate, how elements reach them
// by tag, and the layout of the selector notes. It depends on the
// selectors the edits use, not on the edits' values, so that the
// rewrites of a Program with the same selectors in use share one,
// built once (see Program.tablesFor). It is read-only once built.
type tables struct {
	// used is the key: the selectors in use, a bit each; hash hashes it.
	used []uint64
	hash uint64

	// local maps a program compound to its bit, or -1; active lists the
	// compounds to evaluate, in index order; rightMask has the bits of
	// the edits' selectors' last compounds.
	local     []int32
	active    []int32
	activeC   []*ccompound
	rightMask []uint64
	// words is the uint64s of an element's compound bits, ctxWords those
	// of its selector notes.
	words    int
	ctxWords int
	needNth  bool // some active compound counts siblings
	needType bool // some active compound counts siblings by type
	hasNotes bool // some selector has a combinator: elements carry notes
	plainPop bool // an element nothing happened to may end plainly (see popPlain)
	// With dispatch, anyTag lists the active compounds (by bit) for any
	// element, and tagged those for one tag, grouped by tag, the group of
	// tag t being tagged[tagFirst[t]-1:tagEnd[t]] (tagFirst[t] is 0 when
	// it has none: the bounds tell, without reading a compound, where a
	// tag's group ends). anyFor has, by what an
	// element has (needID, needClass), those of anyTag it may match.
	dispatch bool
	anyTag   []anyCompound
	anyFor   [4][]anyCompound
	// byClass and byID have, when a selector list names many classes or
	// ids (wordDispatch or more compounds that are one class, or one id,
	// and nothing else), those compounds by their class or id; anyFor
	// leaves them out. An element's classes are then looked up, one
	// each, instead of every such compound testing the element: a rule
	// file that names fifty classes made a rewrite of the shop page
	// three times slower.
	byClass, byID map[string][]anyCompound
	// byClassFold and byIDFold are byClass and byID by their keys with
	// ASCII letters in lower case, a list for all the keys alike: a page
	// in quirks mode compares classes and ids so (.content selects
	// class="Content"), and looks its words up there.
	byClassFold, byIDFold map[string][]anyCompound
	// byAttr groups compounds that are one test of an attribute (not id
	// or class) and nothing else by the attribute's name: a tag without
	// that name in its bytes passes the whole group by
	// ([data-slot=hero], [data-slot=promo], … look for data-slot once).
	byAttr []attrGroup
	// anyBits has, by what the element has (needID, needClass), the bits
	// (of the first 64) of the compounds of anyTag that may match it:
	// most elements have neither id nor class, and most compounds for
	// any element ask for one; anyHigh tells whether one past the first
	// 64 may. tagBits and tagHigh have, by tag, those of tagged.
	anyBits  [4]uint64
	anyHigh  [4]bool
	tagBits  [256]uint64
	tagHigh  [256]bool
	tagged   []int32
	tagFirst [256]int32
	tagEnd   [256]int32
	// tagWords has, for a tag whose group holds wordDispatch or more
	// compounds that are the tag and one class (li.promo-3), those
	// compounds by their class, as byClass has them (exact, and folded
	// for quirks mode); looked up, they are not tested in the group's
	// loop: they end the group, past tagEnd[t].
	tagWords map[uint16]*wordTable
	// late lists, in index order, the compounds with :not(), which
	// dispatch evaluates after the others: lateFor[have] those for any
	// element that may match one with what it has (needID, needClass),
	// and lateTagged those for one tag, grouped by tag as tagged is
	// (from lateFirst[t]-1 to lateEnd[t]), each in index order. An
	// element meets those two lists merged (500 li:not(.promo-N) were
	// each asked of every element of a page, and found wanting by tag).
	late       []int32
	lateFor    [4][]int32
	lateTagged []int32
	lateFirst  [256]int32
	lateEnd    [256]int32
	// selRight has, per selector, the bits (of the first 64) of its
	// alternatives' last compounds.
	selRight []uint64
	// rightNeed has, per bit of a last compound, the bits that every
	// alternative ending with it needs matched by an open element: an
	// element whose last compounds' needs are not all open cannot be
	// selected, and apply, which would find that out, is not called
	// (a page has many a elements, and "#menu a" names few).
	rightNeed [64]uint64
	// rightOnly has the bits (of the first 64) of the compounds that are
	// the last of some selector and never an ancestor in one: once their
	// selectors cannot match, nothing reads them (see dead).
	rightOnly uint64
	ancMask   uint64 // the bits of the compounds that are an ancestor in a selector
	// The selector notes (see edits.go): cbase, per complex selector of
	// the Program, 1 + its first position (0: not used); posList the
	// positions, grouped by the compound they end with, that of local
	// compound k from posFirst[k]; descMask the positions a descendant
	// combinator follows; altList the alternatives of selector s, from
	// altFirst[s].
	cbase    []int32
	posList  []posRef
	posFirst []int32
	descMask []uint64
	altList  []altRef
	altFirst []int32
	// lastSels and prevSels index the alternatives by what an element
	// must have for one to select it (see complexAt): one of a single
	// compound by that compound (local bit k's selectors from
	// lastFirst[k]), one of more by the position before its last
	// compound, which the element's parent must note (note p's from
	// prevFirst[p]; prevMask has the notes that are one). With many
	// edits, apply asks only the selectors these give (see selCandidates):
	// 500 rules on "#promo-N .price" asked 500 selectors at every price.
	lastSels, lastFirst []int32
	prevSels, prevFirst []int32
	prevMask            []uint64

	// neededBy has, per bit of ancMask, the bits of rightOnly whose
	// rightNeed has it: those whose life changes when it does.
	neededBy [64]uint64
}

// tableCacheSize bounds the tables a Program keeps: one per set of
// selectors in use, and a site's rules make few (the rules that apply to
// a visitor vary, but their combinations seen in practice are a
// handful). Past it the oldest is replaced.
const tableCacheSize = 32

// tableCache is a Program's tables, replaced whole when one is added, so
// that a rewrite finds its tables without a lock.
type tableCache struct {
	t    [tableCacheSize]*tables
	next int // the slot the next one takes
}

// tablesFor returns the tables for the selectors in used, building them
// the first time. It does not allocate when they are cached.
func (p *Program) tablesFor(used []uint64) *tables {
	h := hashUsed(used)
	c := p.tabs.Load()
	if t := c.find(h, used); t != nil {
		return t
	}
	t := p.buildTables(used, h)
	for {
		c = p.tabs.Load()
		if old := c.find(h, used); old != nil {
			return old // another rewrite built them first
		}
		n := new(tableCache)
		if c != nil {
			*n = *c
		}
		n.t[n.next] = t
		n.next = (n.next + 1) % tableCacheSize
		if p.tabs.CompareAndSwap(c, n) {
			return t
		}
	}
}

// find returns the cached tables for used, whose hash is h, or nil.
func (c *tableCache) find(h uint64, used []uint64) *tables {
	if c == nil {
		return nil
	}
	for _, t := range &c.t {
		if t != nil && t.hash == h && slices.Equal(t.used, used) {
			return t
		}
	}
	return nil
}

// hashUsed hashes a set of selectors in use (FNV-1a over the words).
func hashUsed(used []uint64) uint64 {
	h := uint64(14695981039346656037)
	for _, w := range used {
		h = (h ^ w) * 1099511628211
	}
	return h
}

// scanAll turns dispatch off in the tables built while it is set: the
// matcher then evaluates every active compound at every element, in index
// order, which the tests compare dispatch with.
var scanAll bool

// buildTables builds the tables for the selectors in used.
func (p *Program) buildTables(used []uint64, h uint64) *tables {
	t := &tables{used: slices.Clone(used), hash: h}
	inUse := func(s int) bool { return used[s>>6]&(1<<(s&63)) != 0 }

	// The compounds the selectors need, in index order.
	t.local = make([]int32, len(p.comps))
	for i := range t.local {
		t.local[i] = -1
	}
	for s := range p.sels {
		if !inUse(s) {
			continue
		}
		for _, k := range p.sels[s].comps {
			if t.local[k] < 0 {
				t.local[k] = 0
				t.active = append(t.active, k)
			}
		}
	}
	sortInt32(t.active)
	for i, k := range t.active {
		t.local[k] = int32(i)
		t.activeC = append(t.activeC, &p.comps[k])
	}
	for _, k := range t.active {
		for _, n := range p.comps[k].nth {
			t.needNth = true
			t.needType = t.needType || n.ofType
		}
	}
	// Index the compounds by tag, so that an element only meets the
	// compounds it may match. Those with :not() read the bits of their
	// arguments' compounds on the same element: they come last, in index
	// order (which has arguments first), and what their arguments use is
	// never dead.
	t.dispatch = !scanAll
	var notArgs uint64
	for i, c := range t.activeC {
		for j := range c.not {
			for _, k := range c.not[j].comps {
				if l := t.local[k]; l < 64 {
					notArgs |= 1 << l
				}
			}
		}
		switch {
		case int(c.tag) >= len(t.tagFirst):
			t.dispatch = false
		case len(c.not) > 0:
			t.late = append(t.late, int32(i))
		case c.tag == 0:
			var need uint8
			if c.ids != nil {
				need |= needID
			}
			if c.classes != nil {
				need |= needClass
			}
			t.anyTag = append(t.anyTag, anyCompound{c: c, bit: int32(i), need: need})
		default:
			t.tagged = append(t.tagged, int32(i))
		}
	}
	if t.dispatch {
		tg := t.tagged
		for i := 1; i < len(tg); i++ { // by tag, few
			for j := i; j > 0 && t.activeC[tg[j]].tag < t.activeC[tg[j-1]].tag; j-- {
				tg[j], tg[j-1] = tg[j-1], tg[j]
			}
		}
		for j := len(tg) - 1; j >= 0; j-- {
			t.tagFirst[t.activeC[tg[j]].tag] = int32(j + 1)
		}
		for j := range tg {
			t.tagEnd[t.activeC[tg[j]].tag] = int32(j + 1)
		}
	}
	t.words = max(1, (len(t.active)+63)/64)
	t.rightMask = make([]uint64, t.words)
	t.selRight = make([]uint64, len(p.sels))
	for i := range t.rightNeed {
		t.rightNeed[i] = ^uint64(0)
	}
	var anc uint64
	for s := range p.sels {
		if !inUse(s) {
			continue
		}
		for _, alt := range p.sels[s].alts {
			b := t.local[alt.comps[len(alt.comps)-1]]
			t.rightMask[b>>6] |= 1 << (b & 63)
			if b < 64 {
				t.selRight[s] |= 1 << b
				var need uint64
				for _, k := range alt.comps[:len(alt.comps)-1] {
					if l := t.local[k]; l < 64 {
						need |= 1 << l
					}
				}
				t.rightNeed[b] &= need
			}
			for _, k := range alt.comps[:len(alt.comps)-1] {
				if l := t.local[k]; l < 64 {
					anc |= 1 << l
				}
			}
		}
	}
	t.rightOnly, t.ancMask = t.rightMask[0]&^anc&^notArgs, anc
	for b := t.rightOnly; b != 0; b &= b - 1 {
		i := bits.TrailingZeros64(b)
		for n := t.rightNeed[i] & anc; n != 0; n &= n - 1 {
			t.neededBy[bits.TrailingZeros64(n)] |= 1 << i
		}
	}
	t.wordTables()
	t.tagWordTables()
	t.attrTables()
	for _, a := range t.anyTag {
		for have := range t.anyBits {
			if a.need&^uint8(have) != 0 {
				continue
			}
			if !t.byWord(a) {
				t.anyFor[have] = append(t.anyFor[have], a)
			}
			if a.bit < 64 {
				t.anyBits[have] |= 1 << a.bit
			} else {
				t.anyHigh[have] = true
			}
		}
	}
	t.lateTables()
	for _, i := range t.late {
		if t.activeC[i].tag != 0 {
			continue
		}
		for have := range t.anyBits {
			if i < 64 {
				t.anyBits[have] |= 1 << i
			} else {
				t.anyHigh[have] = true
			}
		}
	}
	for _, i := range append(t.tagged, t.late...) {
		if tg := t.activeC[i].tag; tg == 0 {
			continue
		} else if i < 64 {
			t.tagBits[tg] |= 1 << i
		} else {
			t.tagHigh[tg] = true
		}
	}
	t.notes(p, inUse)
	t.plainPop = !t.needType && t.words == 1 && t.ctxWords == 1
	return t
}

// lateTables builds lateFor and lateTagged from late.
func (t *tables) lateTables() {
	for _, i := range t.late {
		c := t.activeC[i]
		if c.tag != 0 {
			t.lateTagged = append(t.lateTagged, i)
			continue
		}
		var need uint8
		if c.ids != nil {
			need |= needID
		}
		if c.classes != nil {
			need |= needClass
		}
		for have := range t.lateFor {
			if need&^uint8(have) == 0 {
				t.lateFor[have] = append(t.lateFor[have], i)
			}
		}
	}
	// By tag, in index order within a tag (late is in index order).
	slices.SortStableFunc(t.lateTagged, func(a, b int32) int { return cmp.Compare(t.activeC[a].tag, t.activeC[b].tag) })
	for j := len(t.lateTagged) - 1; j >= 0; j-- {
		t.lateFirst[t.activeC[t.lateTagged[j]].tag] = int32(j + 1)
	}
	for j, i := range t.lateTagged {
		t.lateEnd[t.activeC[i].tag] = int32(j + 1)
	}
}

// wordDispatch is how many compounds of one class (or one id) a
// selector list must name for the matcher to look them up by the
// element's classes (or id) rather than test each: with fewer, testing
// costs less than splitting the class list and looking each class up.
var wordDispatch = 3 // a variable for TestWordDispatch

// classWord is the class a compound that is one class, and nothing
// else, names, or "" when it is not one or when its class, holding a
// space, is not a word a class list can hold.
func classWord(c *ccompound) string {
	if c.kind != kindClass || strings.ContainsAny(c.classes[0], " \t\n\r\f") {
		return ""
	}
	return c.classes[0]
}

// wordTables builds byClass and byID, when the compounds of one class or
// one id among anyTag are wordDispatch or more.
func (t *tables) wordTables() {
	classes, ids := 0, 0
	for _, a := range t.anyTag {
		switch {
		case classWord(a.c) != "":
			classes++
		case a.c.kind == kindID:
			ids++
		}
	}
	if classes >= wordDispatch {
		t.byClass = map[string][]anyCompound{}
	}
	if ids >= wordDispatch {
		t.byID = map[string][]anyCompound{}
	}
	for _, a := range t.anyTag {
		switch w := classWord(a.c); {
		case w != "" && t.byClass != nil:
			t.byClass[w] = append(t.byClass[w], a)
		case a.c.kind == kindID && t.byID != nil:
			t.byID[a.c.ids[0]] = append(t.byID[a.c.ids[0]], a)
		}
	}
	t.byClassFold, t.byIDFold = foldKeys(t.byClass), foldKeys(t.byID)
}

// wordTable is compounds by the class they name, as it is (exact) and
// with its ASCII letters in lower case (fold).
type wordTable struct{ exact, fold map[string][]anyCompound }

// tagClassWord is the class a compound that is one tag and one class,
// and nothing else, names, or "" (see classWord).
func tagClassWord(c *ccompound) string {
	if c.tag == 0 || c.never || len(c.classes) != 1 || len(c.ids)+len(c.attrs)+len(c.nth)+len(c.not) != 0 ||
		strings.ContainsAny(c.classes[0], " \t\n\r\f") {
		return ""
	}
	return c.classes[0]
}

// tagWordTables builds tagWords, with dispatch: for each tag whose group
// of tagged holds wordDispatch or more compounds of one class.
func (t *tables) tagWordTables() {
	if !t.dispatch {
		return
	}
	count := map[uint16]int{}
	for _, i := range t.tagged {
		if c := t.activeC[i]; tagClassWord(c) != "" {
			count[c.tag]++
		}
	}
	for _, i := range t.tagged {
		c := t.activeC[i]
		w := tagClassWord(c)
		if w == "" || count[c.tag] < wordDispatch {
			continue
		}
		if t.tagWords == nil {
			t.tagWords = map[uint16]*wordTable{}
		}
		wt := t.tagWords[c.tag]
		if wt == nil {
			wt = &wordTable{exact: map[string][]anyCompound{}}
			t.tagWords[c.tag] = wt
		}
		wt.exact[w] = append(wt.exact[w], anyCompound{c: c, bit: i})
	}
	for tag, wt := range t.tagWords {
		wt.fold = foldKeys(wt.exact)
		// The group's loop stops before them (500 li.promo-N had every
		// li skip them one by one). Its order does not matter: each
		// compound sets its own bit.
		group := t.tagged[t.tagFirst[tag]-1 : t.tagEnd[tag]]
		slices.SortStableFunc(group, func(a, b int32) int {
			return cmp.Compare(b2i(tagClassWord(t.activeC[a]) != ""), b2i(tagClassWord(t.activeC[b]) != ""))
		})
		t.tagEnd[tag] -= int32(count[tag])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// foldKeys returns m by its keys with ASCII letters in lower case, the
// lists of keys alike joined; nil for nil.
func foldKeys(m map[string][]anyCompound) map[string][]anyCompound {
	if m == nil {
		return nil
	}
	out := make(map[string][]anyCompound, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) { // (in order: one table for one program)
		f := string(appendFolded(nil, []byte(k)))
		out[f] = append(out[f], m[k]...)
	}
	return out
}

// appendFolded appends w with its ASCII letters in lower case.
func appendFolded(dst, w []byte) []byte {
	for _, c := range w {
		dst = append(dst, lowerByte(c))
	}
	return dst
}

// attrGroup is the compounds of byAttr that test attribute name: those
// that test its value for equality, by the value (with its ASCII letters
// in lower case for the "i" flag), and the others, each tested in turn.
type attrGroup struct {
	name       string
	eq, eqFold map[string][]anyCompound
	list       []anyCompound
}

// add puts a, which tests g's attribute, in g: by its value, when it
// tests equality, case-sensitively or with the "i" flag. (An attribute
// HTML compares case-insensitively without a flag, such as type,
// compares exactly in svg and math: such tests are few, and stay in the
// list.)
func (g *attrGroup) add(a anyCompound) {
	at := &a.c.attrs[0]
	switch {
	case at.Op != selector.Equals || at.Fold && at.Flag != 'i':
		g.list = append(g.list, a)
	case at.Flag == 'i':
		if g.eqFold == nil {
			g.eqFold = map[string][]anyCompound{}
		}
		k := string(appendFolded(nil, []byte(at.Value)))
		g.eqFold[k] = append(g.eqFold[k], a)
	default:
		if g.eq == nil {
			g.eq = map[string][]anyCompound{}
		}
		g.eq[at.Value] = append(g.eq[at.Value], a)
	}
}

// attrOnly is the name of the attribute a compound tests when it is one
// test of an attribute other than id and class, and nothing else, or "".
func attrOnly(c *ccompound) string {
	if c.tag != 0 || c.never || len(c.attrs) != 1 || len(c.ids)+len(c.classes)+len(c.nth)+len(c.not) != 0 {
		return ""
	}
	switch n := c.attrs[0].Name; n {
	case "id", "class":
		return ""
	default:
		return n
	}
}

// attrDispatch is how many compounds of anyTag must test an attribute
// for them to make a group of byAttr: one, since a group looks for the
// name once per tag, without the matcher's call per compound. A
// pass-through of the shop page with fifty edits whose selectors test
// data-slot against as many values took 2.6 ms in the matcher's loop;
// in a group, what one such selector takes (254 µs, 184 without).
var attrDispatch = 1 // a variable for TestWordDispatch

// attrTables builds byAttr: a group for each attribute that
// attrDispatch or more compounds of anyTag test.
func (t *tables) attrTables() {
	count := map[string]int{}
	for _, a := range t.anyTag {
		if n := attrOnly(a.c); n != "" {
			count[n]++
		}
	}
	for _, a := range t.anyTag {
		n := attrOnly(a.c)
		if n == "" || count[n] < attrDispatch {
			continue
		}
		i := slices.IndexFunc(t.byAttr, func(g attrGroup) bool { return g.name == n })
		if i < 0 {
			i = len(t.byAttr)
			t.byAttr = append(t.byAttr, attrGroup{name: n})
		}
		t.byAttr[i].add(a)
	}
}

// byWord reports whether compound a is looked up in byClass or byID, or
// tested in a group of byAttr.
func (t *tables) byWord(a anyCompound) bool {
	if t.byClass != nil && classWord(a.c) != "" || t.byID != nil && a.c.kind == kindID {
		return true
	}
	for _, g := range t.byAttr {
		if g.name == attrOnly(a.c) {
			return true
		}
	}
	return false
}

// notes lays out the selector notes (see edits.go) for the selectors in
// use and the :not() arguments of the compounds they use: a bit per
// position, the positions grouped by the compound they end with, the
// positions a descendant combinator follows, and each selector's
// alternatives.
func (t *tables) notes(p *Program, inUse func(int) bool) {
	t.cbase = make([]int32, int(p.ncplx))
	var list []posRef
	var owner, desc []int32
	var n int32
	add := func(c *ccomplex) int32 {
		if t.cbase[c.id] == 0 {
			t.cbase[c.id] = n + 1
			for i := 0; i < len(c.comps)-1; i++ {
				need := int32(-1)
				if i > 0 {
					need = n + int32(i) - 1
				}
				list = append(list, posRef{bit: n + int32(i), need: need})
				owner = append(owner, t.local[c.comps[i]])
				if c.combs[i] == selector.Descendant {
					desc = append(desc, n+int32(i))
				}
			}
			n += int32(len(c.comps) - 1)
		}
		return t.cbase[c.id] - 1
	}
	t.altFirst = make([]int32, len(p.sels)+1)
	for s := range p.sels {
		t.altFirst[s] = int32(len(t.altList))
		if !inUse(s) {
			continue
		}
		for j := range p.sels[s].alts {
			c := &p.sels[s].alts[j]
			base := add(c)
			prev := int32(-1)
			if len(c.comps) > 1 {
				prev = base + int32(len(c.comps)) - 2
			}
			t.altList = append(t.altList, altRef{last: t.local[c.comps[len(c.comps)-1]], prev: prev})
		}
	}
	t.altFirst[len(p.sels)] = int32(len(t.altList))
	for _, c := range t.activeC {
		for j := range c.not {
			add(&c.not[j])
		}
	}
	t.ctxWords = max(1, int(n+63)/64)
	t.hasNotes = n > 0
	t.candidateIndex(len(p.sels), int(n))
	t.descMask = make([]uint64, t.ctxWords)
	for _, b := range desc {
		t.descMask[b>>6] |= 1 << (b & 63)
	}
	// Group the positions by compound: a counting sort.
	t.posFirst = make([]int32, len(t.active)+1)
	for _, o := range owner {
		t.posFirst[o+1]++
	}
	for k := 1; k < len(t.posFirst); k++ {
		t.posFirst[k] += t.posFirst[k-1]
	}
	t.posList = make([]posRef, len(list))
	fill := make([]int32, len(t.active))
	for i, o := range owner {
		t.posList[t.posFirst[o]+fill[o]] = list[i]
		fill[o]++
	}
}

// candidateIndex builds lastSels and prevSels from altList, for nsels
// selectors and n positions.
func (t *tables) candidateIndex(nsels, n int) {
	t.lastFirst = make([]int32, len(t.active)+1)
	t.prevFirst = make([]int32, n+1)
	t.prevMask = make([]uint64, t.ctxWords)
	for _, a := range t.altList {
		if a.prev < 0 {
			t.lastFirst[a.last+1]++
		} else {
			t.prevFirst[a.prev+1]++
			t.prevMask[a.prev>>6] |= 1 << (a.prev & 63)
		}
	}
	for k := 1; k < len(t.lastFirst); k++ {
		t.lastFirst[k] += t.lastFirst[k-1]
	}
	for k := 1; k < len(t.prevFirst); k++ {
		t.prevFirst[k] += t.prevFirst[k-1]
	}
	t.lastSels = make([]int32, t.lastFirst[len(t.lastFirst)-1])
	t.prevSels = make([]int32, t.prevFirst[len(t.prevFirst)-1])
	lastFill := slices.Clone(t.lastFirst[:len(t.lastFirst)-1])
	prevFill := slices.Clone(t.prevFirst[:len(t.prevFirst)-1])
	for s := range nsels {
		for _, a := range t.altList[t.altFirst[s]:t.altFirst[s+1]] {
			if a.prev < 0 {
				t.lastSels[lastFill[a.last]] = int32(s)
				lastFill[a.last]++
			} else {
				t.prevSels[prevFill[a.prev]] = int32(s)
				prevFill[a.prev]++
			}
		}
	}
}

package rewrite

import "strings"

// Tag flags: what the tree builder needs to know of an HTML tag name.
const (
	fVoid        uint32 = 1 << iota // no content and no end tag
	fRawText                        // content is text up to the matching end tag
	fScript                         // raw text with script data's escape rules
	fPlaintext                      // everything after the start tag is text
	fSpecial                        // HTML's "special" category: stops "any other end tag"
	fScope                          // bounds "has an element in scope"
	fClosesP                        // a start tag that closes an open p (in button scope)
	fHeadOK                         // may appear in head without closing it
	fBreakout                       // a start tag that leaves svg or math content
	fHeading                        // h1 to h6
	fTableEnd                       // an end tag checked in table scope
	fIntegration                    // svg or math element whose children are HTML
	fStartRule                      // its start tag may close open elements, or open none
	fBlockEnd                       // its end tag closes it when it is in (default) scope
	fFormatting                     // a formatting element: its end tag runs the adoption agency
	fEndRule                        // its end tag does not simply close it as the current node
	fTablePart                      // a start tag browsers ignore outside tables
	fMarker                         // a formatting-element scope marker (td, th, caption, ...)
	fMode                           // the element decides the insertion mode (table parts, template, head, body, ...)
	fNoRebuild                      // its start tag does not reopen formatting elements
)

// tagInfo describes a known tag name.
type tagInfo struct {
	name  string
	flags uint32
}

// Tag ids: 0 is the document (the root of the stack); known names have
// ids 1..numStatic; a Program adds the type selectors' other names after
// them (below maxProgramNames), and a Rewriter interns the page's other
// names after the Program's (Rewriter.nameBase). Ids index the per-tag
// chains of open elements, so they are dense.
const maxProgramNames = 1<<16 - maxNames - 1

// The ids the tree builder refers to by name.
var (
	tagHTML, tagHead, tagBody, tagP, tagLI, tagDD, tagDT, tagA, tagButton,
	tagOption, tagOptgroup, tagTR, tagTD, tagTH, tagTBody, tagTHead, tagTFoot,
	tagTable, tagTemplate, tagSVG, tagMath, tagOL, tagUL, tagAddress, tagDiv,
	tagBR, tagForeignObject, tagDesc, tagTitle, tagMglyph, tagMalignmark,
	tagImg, tagImage, tagCaption, tagCol, tagColgroup, tagForm, tagSelect, tagInput, tagHr,
	tagNobr, tagRuby, tagRb, tagRtc, tagRp, tagRt, tagFrameset, tagFrame, tagFont,
	tagAnnotationXML, tagScript, tagStyle, tagApplet, tagMarquee, tagObject, tagNoscript, tagNoframes,
	tagPre, tagListing, tagTextarea uint16
)

// framesetOff holds, by id, the HTML elements whose start tag in the body
// sets the parser's frameset-ok flag to "not ok" (an input only when it
// is not of type hidden): after one, a <frameset> no longer replaces the
// body (see Rewriter.framesetIn).
var framesetOff [256]bool

var staticTags []tagInfo // index = id

// nameTable is an open-addressing hash table of the known names: one hash
// of a few bytes and one comparison answer a lookup, cheaper than a map.
var nameTable [1024]nameSlot

type nameSlot struct {
	name string
	id   uint16
}

// hashName hashes a name by its length and first two and last bytes,
// which is enough to tell the known names apart (probing resolves the
// rest).
func hashName(b []byte) uint32 {
	n := len(b)
	if n == 0 {
		return 0
	}
	h := uint32(n)*0x9e3779b1 ^ uint32(b[0])*0x85ebca6b ^ uint32(b[n-1])*0xc2b2ae35
	if n > 1 {
		h ^= uint32(b[1]) * 0x27d4eb2f
	}
	return h ^ h>>16
}

func staticLookup(b []byte) uint16 {
	h := int(hashName(b)) & (len(nameTable) - 1)
	for {
		slot := &nameTable[h]
		if slot.id == 0 || len(slot.name) == len(b) && slot.name == string(b) {
			return slot.id
		}
		h = (h + 1) & (len(nameTable) - 1)
	}
}

func init() {
	staticTags = []tagInfo{{name: ""}}
	ids := map[string]uint16{}
	add := func(flags uint32, list string) {
		for _, n := range strings.Fields(list) {
			id, ok := ids[n]
			if !ok {
				id = uint16(len(staticTags))
				ids[n] = id
				staticTags = append(staticTags, tagInfo{name: n})
			}
			staticTags[id].flags |= flags
		}
	}
	add(0, `a abbr acronym audio b bdi bdo big canvas cite code data datalist del dfn em font i ins kbd label
		legend map mark meter nobr optgroup option output picture progress q rb rp rt rtc ruby s samp select slot
		small span strike strong sub sup svg math time tt u var video image frameset
		path g circle ellipse rect line polyline polygon use defs symbol lineargradient radialgradient stop
		clippath mask pattern text tspan foreignobject desc filter image marker
		mi mo mn ms mtext mrow mfrac msqrt mroot msub msup msubsup annotation-xml semantics mglyph malignmark`)
	add(fVoid, "area base br col embed hr img input link meta param source track wbr keygen basefont bgsound frame")
	add(fRawText, "style xmp iframe noembed noframes noscript textarea title")
	add(fScript, "script")
	add(fPlaintext, "plaintext")
	// The spec added search to the special elements in 2023; the
	// reference parser the tests compare with (x/net/html) has not.
	add(fSpecial, `address applet area article aside base basefont bgsound blockquote body br button caption
		center col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset
		h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li link listing main marquee menu
		meta nav noembed noframes noscript object ol p param plaintext pre script section select source
		style summary table tbody td template textarea tfoot th thead title tr track ul wbr xmp`)
	add(fScope, "applet caption html table td th marquee object template select")
	add(fClosesP, `address article aside blockquote center details dialog dir div dl fieldset figcaption figure
		footer header hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing form
		plaintext table hr xmp li dd dt`)
	add(fHeadOK, "base basefont bgsound link meta title noscript noframes style script template")
	add(fBreakout, `b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img
		li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var`)
	add(fHeading, "h1 h2 h3 h4 h5 h6")
	add(fTableEnd, "table tbody thead tfoot tr td th caption colgroup")
	add(fIntegration, "mi mo mn ms mtext")
	add(fStartRule, `html head body option optgroup a button tr td th tbody thead tfoot svg math caption col colgroup
		table form select input hr image nobr rb rtc rp rt frameset frame`)
	add(fBlockEnd, `address article aside blockquote button center details dialog dir div dl fieldset figcaption
		figure footer header hgroup listing main menu nav ol pre search section select summary ul`)
	add(fFormatting, "a b big code em font i nobr s small strike strong tt u")
	add(fEndRule, "body html head form template frameset")
	add(fTablePart, "caption col colgroup tbody td tfoot th thead tr")
	add(fMarker, "applet marquee object td th caption template")
	add(fMode, "td th tr tbody thead tfoot caption colgroup table template head body frameset html")
	add(fNoRebuild, `html head body frameset frame base basefont bgsound link meta noframes script style template
		title address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer
		header hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 pre listing form li dd dt
		plaintext table param source track hr textarea iframe noembed noscript rb rtc rp rt caption col colgroup
		tbody td tfoot th thead tr`)
	if len(staticTags) > len(tagFlags) {
		panic("rewrite: too many static tag names")
	}
	for i, t := range staticTags {
		tagFlags[i] = t.flags
	}
	for i := 1; i < len(staticTags); i++ {
		h := int(hashName([]byte(staticTags[i].name))) & (len(nameTable) - 1)
		for nameTable[h].id != 0 {
			h = (h + 1) & (len(nameTable) - 1)
		}
		nameTable[h] = nameSlot{name: staticTags[i].name, id: uint16(i)}
	}
	for p, n := range map[*uint16]string{
		&tagHTML: "html", &tagHead: "head", &tagBody: "body", &tagP: "p", &tagLI: "li", &tagDD: "dd",
		&tagDT: "dt", &tagA: "a", &tagButton: "button", &tagOption: "option", &tagOptgroup: "optgroup",
		&tagTR: "tr", &tagTD: "td", &tagTH: "th", &tagTBody: "tbody", &tagTHead: "thead", &tagTFoot: "tfoot",
		&tagTable: "table", &tagTemplate: "template", &tagSVG: "svg", &tagMath: "math", &tagOL: "ol",
		&tagUL: "ul", &tagAddress: "address", &tagDiv: "div", &tagBR: "br",
		&tagForeignObject: "foreignobject", &tagDesc: "desc", &tagTitle: "title",
		&tagMglyph: "mglyph", &tagMalignmark: "malignmark",
		&tagImg: "img", &tagImage: "image", &tagCaption: "caption", &tagCol: "col", &tagColgroup: "colgroup",
		&tagForm: "form", &tagSelect: "select", &tagInput: "input", &tagHr: "hr", &tagNobr: "nobr",
		&tagRuby: "ruby", &tagRb: "rb", &tagRtc: "rtc", &tagRp: "rp", &tagRt: "rt", &tagFrameset: "frameset",
		&tagFrame: "frame", &tagFont: "font", &tagAnnotationXML: "annotation-xml", &tagScript: "script",
		&tagStyle: "style", &tagApplet: "applet", &tagMarquee: "marquee", &tagObject: "object",
		&tagNoscript: "noscript", &tagNoframes: "noframes", &tagPre: "pre", &tagListing: "listing", &tagTextarea: "textarea",
	} {
		*p = ids[n]
	}
	for _, n := range strings.Fields(`pre listing li dd dt button applet marquee object table area br embed img
		image keygen wbr input hr textarea xmp iframe select template`) {
		framesetOff[ids[n]] = true
	}
}

// tagFlags holds the flags of the static names by id, in a small array
// the hot path indexes without a bounds check.
var tagFlags [256]uint32

// flagsOf returns the flags of an HTML tag id; names the tables do not
// know have none.
func flagsOf(id uint16) uint32 {
	if id < uint16(len(tagFlags)) {
		return tagFlags[id]
	}
	return 0
}

// byteClass classifies bytes for the tag scanner.
var byteClass [256]uint8

const (
	cSpace uint8 = 1 << iota // HTML whitespace: ends a name
	cSlash
	cGT
	cEq
	cQuote
	cAlpha
)

// cNameEnd ends a tag name; cAttrEnd ends an attribute name.
const (
	cNameEnd = cSpace | cSlash | cGT
	cAttrEnd = cSpace | cSlash | cGT | cEq
)

// lowerName lower-cases the bytes known tag names are made of (letters,
// digits, '-'); it maps every other byte to 0.
var lowerName [256]byte

// keyTable finds the known names of up to 8 bytes by their bytes packed
// in a uint64: the tokenizer builds the key while it scans the name.
var keyTable [1024]keySlot

type keySlot struct {
	key uint64
	id  uint16
}

func keyHash(k uint64) int { return int((k * 0x9e3779b97f4a7c15) >> 54) }

func keyLookup(k uint64) uint16 {
	h := keyHash(k)
	for {
		slot := &keyTable[h]
		if slot.key == k || slot.id == 0 {
			return slot.id
		}
		h = (h + 1) & (len(keyTable) - 1)
	}
}

func init() {
	for c := 'a'; c <= 'z'; c++ {
		lowerName[c] = byte(c)
		lowerName[c-'a'+'A'] = byte(c)
	}
	for c := '0'; c <= '9'; c++ {
		lowerName[c] = byte(c)
	}
	lowerName['-'] = '-'
	for i := 1; i < len(staticTags); i++ {
		name := staticTags[i].name
		if len(name) > 8 {
			continue
		}
		var k uint64
		for j := 0; j < len(name); j++ {
			k = k<<8 | uint64(name[j])
		}
		h := keyHash(k)
		for keyTable[h].id != 0 {
			h = (h + 1) & (len(keyTable) - 1)
		}
		keyTable[h] = keySlot{key: k, id: uint16(i)}
	}
}

func init() {
	for _, c := range []byte(" \t\n\r\f") {
		byteClass[c] |= cSpace
	}
	byteClass['/'] |= cSlash
	byteClass['>'] |= cGT
	byteClass['='] |= cEq
	byteClass['"'] |= cQuote
	byteClass['\''] |= cQuote
	for c := 'a'; c <= 'z'; c++ {
		byteClass[c] |= cAlpha
		byteClass[c-'a'+'A'] |= cAlpha
	}
}

func isSpace(c byte) bool { return byteClass[c]&cSpace != 0 }
func isAlpha(c byte) bool { return byteClass[c]&cAlpha != 0 }

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares ASCII case-insensitively; want is lower-case.
func equalFold(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerByte(b[i]) != want[i] {
			return false
		}
	}
	return true
}

package parser

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExtractHTML(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "inline elements add no spaces", give: "<p>Con<strong>nor</strong> <a href=#>Gh<em>osh</em></a>.</p>", want: "Connor Ghosh."},
		{name: "entities decoded", give: "<p>O&#39;Neill &amp; Co &lt;b&gt; &eacute;&nbsp;x</p>", want: "O'Neill & Co <b> é x"},
		{name: "whitespace collapsed", give: "<p>  a \n\t b  </p>", want: "a b"},
		{name: "paragraphs never merge", give: "<p>First</p><p>Second</p><div>Third</div><h2>Fourth</h2>", want: "First\n\nSecond\n\nThird\n\nFourth"},
		{name: "unclosed paragraphs", give: "<p>One<p>Two", want: "One\n\nTwo"},
		{name: "br is a line break", give: "<p>a<br>b<br/>c</p>", want: "a\nb\nc"},
		{name: "list items", give: "<ul><li>one</li><li>two</ul>", want: "one\n\ntwo"},
		{name: "script style noscript template skipped", give: "<script>x=1</script><style>p{}</style><noscript>ns</noscript><template><p>tpl<template>in</template>t2</p></template><p>ok</p>", want: "ok"},
		{name: "self-closing script still skipped", give: "<p>a</p><script/>var hidden = 1;</script><p>b</p>", want: "a\n\nb"},
		{name: "comments and attributes skipped", give: `<!-- PRJ-1 --><p title="PRJ-2"><img alt="PRJ-3" src="PRJ-4.png">text</p>`, want: "text"},
		{name: "title kept", give: "<html><head><title>T &amp; T</title><meta charset=utf-8></head><body><p>b</p></body></html>", want: "T & T\n\nb"},
		{name: "hidden attribute", give: `<p>a</p><div hidden><div>nested</div>x</div><p>b</p>`, want: "a\n\nb"},
		{name: "aria-hidden and display none", give: `<span aria-hidden="true">x</span><span style="DISPLAY: none">y</span><span style="visibility:hidden">z</span><span aria-hidden="false">v</span>`, want: "v"},
		{name: "hidden on optional-end element is ignored", give: `<p hidden>shown<p>also`, want: "shown\n\nalso"},
		{name: "hidden void element", give: `<p>a<input hidden>b</p>`, want: "ab"},
		{name: "table rows and cells", give: "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td><p>x</p><p>y</p></td></tr></table><p>after</p>", want: "A | B\n1 | x y\n\nafter"},
		{name: "cells with br stay on the row", give: "<table><tr><td>a<br>b</td><td>c</td></tr></table>", want: "a b | c"},
		{name: "empty first cell", give: "<table><tr><td></td><td>c</td></tr></table>", want: "c"},
		{name: "nested table stays in its cell", give: "<table><tr><td><table><tr><td>Lina Farrell</td><td>PRJ-1</td></tr><tr><td>Paul Saito</td><td>PRJ-2</td></tr></table></td><td>e</td></tr><tr><td>f</td><td>g</td></tr></table><p>after</p>", want: "Lina Farrell | PRJ-1; Paul Saito | PRJ-2 | e\nf | g\n\nafter"},
		{name: "unclosed cells end with their table", give: "<table><tr><td>a<td><table><tr><td>b<td>c</table>d</table><p>x</p><table><tr><td>y</td></tr></table>", want: "a | b | c d\n\nx\n\ny"},
		{name: "pre keeps whitespace", give: "<pre>a\n  b</pre><p>c</p>", want: "a\n  b\n\nc"},
		{name: "newline after pre start dropped", give: "<p>x</p><pre>\n\ta\n</pre>", want: "x\n\n\ta"},
		{name: "deletions left out, insertions kept", give: `<p>Lina Farrell manages <del cite="mailto:Paul" datetime="2024-02-01T10:00:00">PRJ-1000</del><ins cite="mailto:Paul">PRJ-2000</ins>.</p>`, want: "Lina Farrell manages PRJ-2000."},
		{name: "superscript and subscript stand apart", give: `<p>Lina Farrell<sup>1</sup> and PRJ-4355<a href="#fn2"><sup>2</sup></a>, CO<sub>2</sub></p>`, want: "Lina Farrell 1 and PRJ-4355 2 , CO 2"},
		{name: "obsolete and newer block elements", give: "<center>Lina Farrell</center><center>Paul Saito</center><dir><li>one</li></dir><menu><li>two</li></menu><hgroup><h1>T</h1><p>sub</p></hgroup><search>s</search><dialog open>d</dialog>", want: "Lina Farrell\n\nPaul Saito\n\none\n\ntwo\n\nT\n\nsub\n\ns\n\nd"},
		{name: "images and form controls stand apart", give: `<p>Contact:<img src="phone.png">Lina Farrell<svg><text>logo</text></svg>PRJ-1</p><p>Owner:<select><option>Lina Farrell<option selected>Paul Saito</select>Name<input value="x">Paul<button>Go</button>Saito</p>`, want: "Contact: Lina Farrell logo PRJ-1\n\nOwner: Lina Farrell Paul Saito Name Paul Go Saito"},
		{name: "hidden form controls take no room", give: `<p>a<input type="hidden" name="t">b<input type=HIDDEN>c</p>`, want: "abc"},
		{name: "unknown and custom elements are inline", give: "<p>a<x-widget>b</x-widget>c</p>", want: "abc"},
		{name: "hidden custom element", give: "<p>a<x-w hidden>b<x-w>c</x-w>d</x-w>e</p>", want: "ae"},
		{name: "malformed markup", give: "<p>a<b>b</i></p></div>c<", want: "ab\n\nc<"},
		{name: "plain text", give: "just text", want: "just text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, extractHTML(tt.give))
		})
	}
}

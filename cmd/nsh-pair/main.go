// nsh-pair serves a session of nsh's in the browser (pair on). nsh starts
// it; it is not run by hand.
package main

import "nsh/pair"

func main() { pair.Main() }

exit 1
--- stdout
--- stderr
syntax_early_end.net:5:56: error[syntax]: the file ends early: expected `,`, `.`, `input`, `output`, `}` or a name
 5 |     output y                            # error: syntax
   |                                                        ^
   = note: the `{` at line 2, column 18 is not closed

syntax_early_end.net: 1 error(s); nothing written

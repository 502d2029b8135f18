exit 1
--- stdout
--- stderr
syntax_unclosed.net:6:5: error[syntax]: unexpected `output`: expected `)` or `,`
 6 |     output y                            # error: syntax
   |     ^^^^^^
   = note: the `(` at line 5, column 20 is not closed
   = help: stages are joined with `->`; check the brackets around this point

syntax_unclosed.net: 1 error(s); nothing written

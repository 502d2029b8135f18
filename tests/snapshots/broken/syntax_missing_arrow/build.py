exit 1
--- stdout
--- stderr
syntax_missing_arrow.net:4:17: error[syntax]: unexpected `(`: expected `=`
 4 |     y = x Linear(4)                     # error: syntax
   |                 ^
   = help: `Linear` starts a new binding here; if it is a stage, join it with `->`: `... -> Linear`

syntax_missing_arrow.net: 1 error(s); nothing written

exit 1
--- stdout
--- stderr
output.net:2:9: error[output]: network `NoOutput` has no `output` statement
 2 | network NoOutput {                                            # error: output
   |         ^^^^^^^^
   = help: name its results: `output logits`

output.net: 1 error(s); nothing written

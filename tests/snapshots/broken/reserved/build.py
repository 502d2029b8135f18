exit 1
--- stdout
--- stderr
reserved.net:2:9: error[reserved]: `class` cannot name a network: it is a Python keyword
 2 | network class {                                               # error: reserved
   |         ^^^^^
   = help: rename it, e.g. `class_`

reserved.net:8:15: error[reserved]: `lambda` cannot name a parameter: it is a Python keyword
 8 | network Names(lambda=3) {                                     # error: reserved
   |               ^^^^^^^^
   = help: rename it, e.g. `lambda_`

reserved.net:9:11: error[reserved]: `self` cannot name an input: it is a name the built module itself uses
 9 |     input self: float[batch, def]                             # error: reserved; error: reserved
   |           ^^^^
   = help: rename it, e.g. `self_`

reserved.net:9:30: error[reserved]: `def` cannot name a symbolic dim: it is a Python keyword
 9 |     input self: float[batch, def]                             # error: reserved; error: reserved
   |                              ^^^
   = help: rename it, e.g. `def_`

reserved.net:10:5: error[reserved]: `forward` cannot name a binding: it is an attribute of torch's nn.Module
 10 |     forward = self -> Linear(lambda) as parameters            # error: reserved; error: reserved
    |     ^^^^^^^
    = help: rename it, e.g. `forward_`

reserved.net:10:41: error[reserved]: `parameters` cannot name a layer: it is an attribute of torch's nn.Module
 10 |     forward = self -> Linear(lambda) as parameters            # error: reserved; error: reserved
    |                                         ^^^^^^^^^^
    = help: rename it, e.g. `parameters_`

reserved.net: 6 error(s); nothing written

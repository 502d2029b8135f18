exit 1
--- stdout
--- stderr
duplicate.net:2:22: error[duplicate]: parameter `width` is declared twice
 2 | network Dup(width=8, width=16) {                              # error: duplicate
   |                      ^^^^^^^^

duplicate.net:4:11: error[duplicate]: `x` is defined twice
 4 |     input x: float[batch, 4]                                  # error: duplicate
   |           ^

duplicate.net:6:5: error[duplicate]: `y` is defined twice
 6 |     y = x -> ReLU                                             # error: duplicate
   |     ^
   = note: first defined at line 5
   = help: give the new value its own name

duplicate.net:7:5: error[duplicate]: `batch` is already a symbolic dim of an input
 7 |     batch = x -> ReLU                                         # error: duplicate
   |     ^^^^^
   = help: give the value another name

duplicate.net:11:9: error[duplicate]: network `Dup` is defined twice
 11 | network Dup {                                                 # error: duplicate
    |         ^^^
    = note: first defined at line 2
    = help: rename one of them

duplicate.net:16:9: error[duplicate]: network `Linear` has the name of a built-in layer
 16 | network Linear {                                              # error: duplicate
    |         ^^^^^^
    = help: rename the network

duplicate.net: 6 error(s); nothing written

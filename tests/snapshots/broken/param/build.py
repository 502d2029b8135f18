exit 1
--- stdout
--- stderr
param.net:8:28: error[param]: a parameter default must be a number, boolean, string or tuple
 8 | network Uses(act="relu", k=x) {                               # error: param
   |                            ^

param.net:10:14: error[param]: `Block` needs its parameter `planes`
 10 |     a = x -> Block                                            # error: param
    |              ^^^^^
    = help: pass it: Block(planes=...)

param.net:11:26: error[param]: parameter `act` is a string, not an integer
 11 |     b = x -> Linear(4) * act                                  # error: param
    |                          ^^^

param.net: 3 error(s); nothing written

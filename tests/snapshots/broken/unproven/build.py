exit 1
--- stdout
--- stderr
unproven.net:7:14: warning[unproven]: reshape needs batch * seq to be divisible by 5 * batch, which cannot be proven for every value of the symbols
 7 |     a = x -> reshape(batch, 5, -1)                            # warning: unproven
   |              ^^^^^^^^^^^^^^^^^^^^^
   = note: the input is float32[batch, seq]
   = help: check that the sizes divide, or use sizes that make it exact

unproven.net:8:26: error[unproven]: a repetition count must be a known integer, but it is `seq`
 8 |     b = x -> Linear(4) * seq                                  # error: unproven
   |                          ^^^
   = help: give it a concrete value, or a parameter with a default

unproven.net:9:16: warning[unproven]: MaxPool2d with ceil_mode: whether the last window starts inside the input depends on the value of h
 9 |     c = img -> MaxPool2d(3, stride=2, padding=1, ceil_mode=true)   # warning: unproven; warning: unproven
   |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: torch drops that window when it starts in the right padding; give the size a concrete value to check it

unproven.net:9:16: warning[unproven]: MaxPool2d with ceil_mode: whether the last window starts inside the input depends on the value of w
 9 |     c = img -> MaxPool2d(3, stride=2, padding=1, ceil_mode=true)   # warning: unproven; warning: unproven
   |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: torch drops that window when it starts in the right padding; give the size a concrete value to check it

unproven.net:10:22: warning[unproven]: squeeze(1): whether dim 1 (`seq`) is 1 is unknown; netspec keeps it
 10 |     d = x -> squeeze(1)                                       # warning: unproven
    |                      ^

unproven.net:11:36: error[unproven]: `h` must be a known integer to divide by
 11 |     e = x -> reshape(batch, seq // h)                         # error: unproven
    |                                    ^

unproven.net: 2 error(s); nothing written

exit 1
--- stdout
--- stderr
asserts.net:5:34: error[assert]: dim 1 of the stage's result is 5, which is not 6
 5 |     a = x -> Linear(5) : [batch, 6]                      # error: assert
   |                                  ^
   = note: dim 1 is 5, set by Linear (line 5)
   = note: x is float32[batch, 10] (line 3)
   = note: Linear (line 5) makes it float32[batch, 5]
   = help: the inferred shape is [batch, 5]

asserts.net:6:13: error[assert]: the value has 2 dims [batch, 10], the assertion has 3
 6 |     b = x : [batch, 10, 1] -> ReLU                       # error: assert
   |             ^^^^^^^^^^^^^^
   = note: x is float32[batch, 10] (line 3)
   = help: write `: [batch, 10]`

asserts.net:7:26: error[assert]: the stage's result is float32, not int64
 7 |     c = x -> Linear(5) : long[batch, 5]                  # error: assert
   |                          ^^^^^^^^^^^^^^
   = note: x is float32[batch, 10] (line 3)
   = note: Linear (line 7) makes it float32[batch, 5]
   = help: write `: float32[...]`, or convert the value

asserts.net:8:35: error[assert]: dim 0 of the stage's result is batch, which cannot be proven equal to 5
 8 |     d = x -> Linear(5) -> ReLU : [5, batch]              # error: assert; error: assert
   |                                   ^
   = note: dim 0 is batch, set by input x (line 3)
   = note: x is float32[batch, 10] (line 3)
   = note: ReLU (line 8) makes it float32[batch, 5]
   = help: the inferred shape is [batch, 5]

asserts.net:8:38: error[assert]: dim 1 of the stage's result is 5, which cannot be proven equal to batch
 8 |     d = x -> Linear(5) -> ReLU : [5, batch]              # error: assert; error: assert
   |                                      ^^^^^
   = note: dim 1 is 5, set by Linear (line 8)
   = note: x is float32[batch, 10] (line 3)
   = note: ReLU (line 8) makes it float32[batch, 5]
   = help: the inferred shape is [batch, 5]

asserts.net: 5 error(s); nothing written

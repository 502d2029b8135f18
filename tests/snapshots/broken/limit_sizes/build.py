exit 1
--- stdout
--- stderr
limit_sizes.net:4:17: error[limit]: input `huge` has a size beyond int64: 10000000000000000000
 4 |     input huge: float[batch, 10000000000000000000]            # error: limit
   |                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: sizes must be at most 2**63 - 1 = 9223372036854775807

limit_sizes.net:5:21: error[limit]: a stage is repeated 20000 times; the count must be 1 to 10000
 5 |     a = x -> ReLU * 20000                                     # error: limit
   |                     ^^^^^

limit_sizes.net:6:14: error[limit]: Linear makes a size beyond int64: 9223372036854775808
 6 |     b = x -> Linear(9223372036854775808)                      # error: limit
   |              ^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: sizes must be at most 2**63 - 1 = 9223372036854775807

limit_sizes.net: 3 error(s); nothing written

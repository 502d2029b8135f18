exit 1
--- stdout
--- stderr
encoding.net:3:38: error[encoding]: byte 0xe9 is not valid UTF-8
 3 |     input x: float[batch, 4]    # caf�
   |                                      ^
   = help: save the file as UTF-8

encoding.net: 1 error(s); nothing written

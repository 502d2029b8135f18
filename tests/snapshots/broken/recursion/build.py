exit 1
--- stdout
--- stderr
recursion.net:4:14: error[recursion]: network `Loop` uses itself: Loop -> Loop
 4 |     y = x -> Loop                                             # error: recursion
   |              ^^^^
   = help: networks must form a tree of uses

recursion.net:10:14: error[recursion]: `Pong` does not check with these inputs: network `Ping` uses itself: Ping -> Pong -> Ping
 10 |     y = x -> Pong                                             # error: recursion
    |              ^^^^
    = note: in `Pong` at recursion.net:16:14: network `Ping` uses itself: Ping -> Pong -> Ping
    = help: networks must form a tree of uses

recursion.net: 2 error(s); nothing written

exit 1
--- stdout
--- stderr
arguments.net:6:24: error[argument]: `Linear` has no argument `bais`
 6 |     a = x -> Linear(4, bais=false)             # error: argument
   |                        ^^^^^^^^^^
   = note: `Linear` takes: in_features, out_features, bias
   = help: did you mean `bias`?

arguments.net:7:16: error[argument]: `Embedding` needs `embedding_dim`
 7 |     b = ids -> Embedding(100)                  # error: argument
   |                ^^^^^^^^^^^^^^
   = help: pass it: Embedding(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)

arguments.net:8:21: error[argument]: `out_features` is given both by position and by keyword
 8 |     c = x -> Linear(4, out_features=4)         # error: argument
   |                     ^

arguments.net:9:30: error[argument]: `Linear` takes 2 positional arguments (out_features, bias), received 3
 9 |     d = x -> Linear(4, true, 3)                # error: argument
   |                              ^
   = help: pass the others by keyword

arguments.net:10:24: error[argument]: Linear(bias=...): expected true or false, received 1
 10 |     e = x -> Linear(4, bias=1)                 # error: argument
    |                        ^^^^^^

arguments.net:11:22: error[argument]: Dropout(p=...): expected a number, received "half"
 11 |     f = x -> Dropout("half")                   # error: argument
    |                      ^^^^^^

arguments.net:12:9: error[argument]: `add` needs 2 tensor inputs, received 1
 12 |     g = add(x)                                 # error: argument
    |         ^^^^^^

arguments.net:13:9: error[argument]: `Linear` is a layer: it needs an input piped into it
 13 |     h = Linear(4)                              # error: argument
    |         ^^^^^^^^^
    = help: write `x -> Linear(...)`

arguments.net: 8 error(s); nothing written

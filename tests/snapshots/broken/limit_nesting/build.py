exit 1
--- stdout
--- stderr
limit_nesting.net:4:108: error[limit]: brackets nest deeper than 100 levels
 4 | …(((((((((((((((((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))) ->…
   |                                                       ^
   = help: split the expression into named bindings

limit_nesting.net: 1 error(s); nothing written

// #14 placeholder

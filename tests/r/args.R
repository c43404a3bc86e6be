# The peer scripts' command line: key=value arguments as a named character vector
# (values may contain "="). Sourced by each script from its own folder.
parse_args <- function(args) {
  pairs <- regmatches(args, regexpr("=", args), invert = TRUE)
  values <- vapply(pairs, function(p) paste(p[-1], collapse = "="), "")
  names(values) <- vapply(pairs, `[`, "", 1)
  values
}

"""The HTTP layer: parse headers and bodies, call the core, render results and errors."""

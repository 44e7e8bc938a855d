"""HTTP routes, one module per resource. Routes translate HTTP to use cases
and back; they hold no rule of their own."""

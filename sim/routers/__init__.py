"""One router per simulated system, each under its own prefix, as the real systems are separate
services with their own base paths; ``admin`` is the test and demo control surface."""

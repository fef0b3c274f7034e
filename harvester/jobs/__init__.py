"""Jobs: what a command runs, without the command line.

A job receives its settings as one object (built once by the command from its options and
the settings registry), takes the run lock, reads its checkpoint, runs the delivery loop of
harvester.pipeline and returns a summary. Jobs raise the project's errors
(harvester.errors), never click's; the CLI turns those into exit codes. A command is then
only options -> settings -> job -> summary line.
"""

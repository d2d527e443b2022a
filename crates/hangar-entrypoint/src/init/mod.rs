//! PID 1 duties: run the command as a child, forward signals, reap zombies, pass exit codes.

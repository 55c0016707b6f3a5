#!/bin/sh
# Writes version, commit and build date into a linked openclaw binary (see
# Sources/CLinux/build_stamp.c): what `openclaw --version --json`, hello-ok and
# `status` report. Stamping after the link keeps one release build for any version.
#   scripts/stamp-build.sh BINARY VERSION COMMIT DATE
set -eu
binary=$1
stamp="version=$2;commit=$3;date=$4"
perl -0777 -i -pe '
    BEGIN { $stamp = shift @ARGV }
    my $marker = "OPENCLAW_BUILD_STAMP:";
    my $at = index($_, $marker);
    die "stamp-build.sh: no build stamp in the binary\n" if $at < 0;
    die "stamp-build.sh: two build stamps in the binary\n" if index($_, $marker, $at + 1) >= 0;
    my $room = 192 - length($marker) - 1;
    die "stamp-build.sh: stamp longer than $room bytes\n" if length($stamp) > $room;
    substr($_, $at + length($marker), $room) = $stamp . ("\0" x ($room - length($stamp)));
' "$stamp" "$binary"

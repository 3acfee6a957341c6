// The one translation unit that holds Catch2's main(); every unit-test
// executable links it (keeps the heavy Catch2 implementation compiled once).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

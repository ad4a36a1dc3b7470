fn main() {
    std::process::exit(caseledger::cli::main());
}

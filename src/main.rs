fn main() {
    std::process::exit(mailinfra::run(std::env::args_os()));
}

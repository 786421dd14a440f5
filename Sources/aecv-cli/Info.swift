import AECV
import AECVData
import ArgumentParser

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file's spec, parameter count and training history.")

    @Argument(help: ArgumentHelp("A model file.", valueName: "model.aecv"))
    var model: String

    func run() throws {
        let net = try loadModel(model)
        let spec = net.spec
        let optimizer = spec.optimizer ?? OptimizerSpec()
        Terminal.say("\(model): libaecv model, \(spec.preset.rawValue) autoencoder")
        Terminal.say("  input        \(describeShape(net.inputShape)) (\(net.inputSize) floats)")
        Terminal.say("  code         \(net.latentSize) floats")
        Terminal.say("  parameters   \(TextFormat.grouped(net.parameterCount))")
        Terminal.say("  generative   \(net.isGenerative ? "yes (aecv sample)" : "no")")
        Terminal.say("  optimizer    \(optimizer.name.rawValue), learning rate \(show(net.learningRate)), \(net.step) steps taken")
        if net.history.isEmpty {
            Terminal.say("  history      no completed epochs")
        } else {
            Terminal.say("  history      \(net.history.count) epoch\(net.history.count == 1 ? "" : "s"), mean training loss:")
            for (i, loss) in net.history.enumerated() {
                Terminal.say("    epoch \(i + 1)  \(show(loss))")
            }
        }
        Terminal.say("  spec         \(net.specJSON)")
    }
}
